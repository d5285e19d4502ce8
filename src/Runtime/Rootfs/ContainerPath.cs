namespace Inception.Runtime.Rootfs;

/// <summary>Paths as seen inside a container's root.</summary>
internal static class ContainerPath
{
    /// <summary>Cleans a path lexically, with ".." stopping at "/" as a lookup inside the root does:
    /// <c>/a/../../etc</c> → <c>/etc</c>.</summary>
    public static string Clean(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }
}
