namespace Inception.Runtime.Network;

/// <summary>Releases what a container held on the host's network side (veth, address lease, nft rules)
/// once it has stopped. Nothing yet: containers run with --network none or host.</summary>
internal static class ContainerCleanup
{
    public static void Run(string stateRoot, string containerDir) { }
}
