namespace Inception.Runtime.Network;

/// <summary>Releases what a stopped container held on the host's network side (veth, address lease,
/// nft elements), from its network.json alone; nothing if it had none.</summary>
internal static class ContainerCleanup
{
    public static void Run(string stateRoot, string containerDir)
    {
        try { ContainerNetwork.DetachDir(stateRoot, containerDir, Path.GetFileName(containerDir).TrimStart('.')); }
        catch (Exception e) when (e is Errors.RuntimeError or IOException or UnauthorizedAccessException) { }
    }
}
