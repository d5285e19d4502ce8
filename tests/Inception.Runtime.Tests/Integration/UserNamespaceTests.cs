using System.Text.Json.Nodes;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>
/// --userns=auto and OCI uidMappings/gidMappings: the container's root is an unprivileged block of host
/// ids (from the subordinate ids of the user "incrun" that build.sh adds), checked from the host side in
/// /proc and on disk, and from inside against host files it must not reach.
/// </summary>
public sealed class UserNamespaceTests : ContainerTest
{
    /// <summary>The first id of incrun's subordinate uids (the pool --userns=auto takes blocks from).</summary>
    static uint PoolStart()
    {
        var line = File.ReadLines("/etc/subuid").FirstOrDefault(l => l.StartsWith("incrun:"));
        if (line is null) Assert.Ignore("/etc/subuid has no incrun line (./build.sh adds it)");
        return uint.Parse(line!.Split(':')[1]);
    }

    static string[] UidMap(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    static string Ok(RunResult r)
    {
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return r.Stdout.Trim();
    }

    [Test]
    public void RootInsideIsAnUnprivilegedBlockOfHostIds()
    {
        uint start = PoolStart();
        var id = Ok(Run("run", "-d", "--userns=auto", "busybox", "sleep", "60"));
        try
        {
            var inside = Ok(Run("exec", id, "sh", "-c", "cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; grep CapEff /proc/self/status"))
                .Split('\n');
            var uidMap = UidMap(inside[0]);
            Assert.That(uidMap[0], Is.EqualTo("0"));
            uint host = uint.Parse(uidMap[1]);
            Assert.That(host, Is.GreaterThanOrEqualTo(start), "the block comes from incrun's subordinate ids");
            Assert.That(uidMap[2], Is.EqualTo("65536"));
            Assert.That(UidMap(inside[1])[1], Is.EqualTo(uidMap[1]), "gids map to the same block");
            Assert.That(inside[2], Is.EqualTo("0"), "root inside");
            Assert.That(inside[3], Does.EndWith("00000000a80425fb"), "docker's capabilities, inside its namespace");

            // the host sees PID 1 as the block's first uid/gid, in a user namespace that is not the host's
            int pid = int.Parse(Ok(Run("inspect", "-f", "{{.State.Pid}}", id)));
            var status = File.ReadAllLines($"/proc/{pid}/status");
            Assert.That(status.First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1..].Distinct(), Is.EqualTo(new[] { host.ToString() }));
            Assert.That(status.First(l => l.StartsWith("Gid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1..].Distinct(), Is.EqualTo(new[] { host.ToString() }));
            Assert.That(Readlink($"/proc/{pid}/ns/user"), Is.Not.EqualTo(Readlink("/proc/self/ns/user")));
            // exec joins that namespace too
            var execNs = Ok(Run("exec", id, "readlink", "/proc/self/ns/user"));
            Assert.That(execNs, Is.EqualTo(Readlink($"/proc/{pid}/ns/user")));
            // cp writes what it copies in as the container's root
            var file = Path.Combine(Incrun.StateRoot, "cp-" + Guid.NewGuid().ToString("N")[..8]);
            File.WriteAllText(file, "x");
            try { Ok(Run("cp", file, $"{id}:/copied")); }
            finally { File.Delete(file); }
            Assert.That(Ok(Run("exec", id, "stat", "-c", "%u:%g", "/copied")), Is.EqualTo("0:0"));
        }
        finally { Run("rm", "-f", id); }
    }

    static string Readlink(string path) => new FileInfo(path).LinkTarget ?? "";

    [Test]
    public void LayerFilesKeepTheirOwnersInsideAndWritesBelongToTheBlockOutside()
    {
        var id = Ok(Run("create", "--userns=auto", "busybox", "sh", "-c",
            "stat -c %u:%g /bin/busybox /etc/passwd /; rm /etc/passwd && ls /etc/passwd 2>/dev/null; echo data > /new; mkdir /d; stat -c %u:%g /new /d"));
        try
        {
            var r = Run("start", "-a", id);
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Stdout.Trim().Split('\n'), Is.EqualTo(new[] { "0:0", "0:0", "0:0", "0:0", "0:0" }), "owners as the image has them; the deleted file is gone");

            var dir = Path.Combine(Incrun.ContainersDir, id);
            var upper = Path.Combine(dir, "upper");
            uint host = uint.Parse(UidMap(File.ReadAllLines("/etc/subuid").First(l => l.StartsWith("incrun:")).Replace(':', ' '))[1]);
            var owner = Stat(Path.Combine(upper, "new"));
            Assert.That(owner.Uid, Is.GreaterThanOrEqualTo(host), "a file the container's root wrote is owned by its block on the host");
            Assert.That(Stat(Path.Combine(upper, "d")).Uid, Is.EqualTo(owner.Uid));
            Assert.That(Stat(upper).Uid, Is.EqualTo(owner.Uid), "the upper directory belongs to the container's root");

            // a second start reuses the same block and finds the first run's files
            r = Run("start", "-a", id);
            Assert.That(r.Stderr, Does.Contain("can't create directory '/d': File exists"), r.ToString());
            Assert.That(r.Stdout.Trim().Split('\n')[^2..], Is.EqualTo(new[] { "0:0", "0:0" }));
        }
        finally { Run("rm", "-f", id); }
    }

    static (uint Uid, uint Gid) Stat(string path)
    {
        var r = Incrun.Exec(Incrun.StartInfo(["-c", "%u %g", path], "stat"), null, TimeSpan.FromSeconds(10));
        var f = r.Stdout.Trim().Split(' ');
        return (uint.Parse(f[0]), uint.Parse(f[1]));
    }

    /// <summary>Without idmapped mounts (forced here with INCRUN_IDMAP=copy) each layer is used through a
    /// copy with shifted owners, made once per id map and kept beside the layer.</summary>
    [Test]
    public void WithoutIdmappedMountsLayersAreShiftedCopiesMadeOnce()
    {
        RunResult RunCopy(params string[] args)
        {
            var psi = Incrun.StartInfo(args);
            psi.Environment["INCRUN_IDMAP"] = "copy";
            return Incrun.Exec(psi, null, TimeSpan.FromSeconds(60));
        }
        var id = Ok(RunCopy("create", "--userns=auto", "busybox", "sh", "-c", "stat -c %u:%g /bin/busybox /etc; rm /etc/passwd; ls /etc/passwd 2>&1"));
        try
        {
            var r = RunCopy("start", "-a", id);
            Assert.That(r.ExitCode, Is.Not.EqualTo(0), "ls of the removed file fails");
            Assert.That(r.Stdout.Trim().Split('\n'), Is.EqualTo(new[] { "0:0", "0:0", "ls: /etc/passwd: No such file or directory" }), r.ToString());
            var copies = Directory.GetDirectories(Path.Combine(Incrun.StateRoot, "layers", "idmapped"), "*", SearchOption.AllDirectories)
                .Where(d => Path.GetFileName(d).Length == 16).ToList();
            Assert.That(copies, Is.Not.Empty);
            var block = Block(id);
            var copy = copies.Single(c => File.Exists(Path.Combine(c, "bin", "busybox")));
            Assert.That(Stat(Path.Combine(copy, "bin", "busybox")), Is.EqualTo((block.Host, block.Host)));
            var made = Directory.GetLastWriteTimeUtc(copy);
            Assert.That(File.Exists(Path.Combine(Directory.GetParent(copy)!.FullName.Replace("idmapped", "sha256"), "etc", "passwd")), "the layer itself is unchanged");
            r = RunCopy("start", "-a", id);
            Assert.That(r.Stdout, Does.Contain("No such file or directory"), r.ToString());
            Assert.That(Directory.GetLastWriteTimeUtc(copy), Is.EqualTo(made), "the copy is made once");
        }
        finally { Run("rm", "-f", id); }
    }

    [Test]
    public void RootInsideCannotReadOrWriteTheHostsRootFiles()
    {
        var dir = Path.Combine(Incrun.StateRoot, "host-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var secret = Path.Combine(dir, "secret");
        File.WriteAllText(secret, "host only\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            var r = Run("run", "--rm", "--userns=auto", "-v", $"{dir}:/v", "busybox", "sh", "-c",
                "cat /v/secret; echo rc=$?; echo x > /v/new; echo rc=$?; echo y >> /v/secret; echo rc=$?");
            Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "rc=1", "rc=1", "rc=1" }), r.ToString());
            Assert.That(r.Stderr, Does.Contain("Permission denied"));
            Assert.That(File.ReadAllText(secret), Is.EqualTo("host only\n"));
            Assert.That(File.Exists(Path.Combine(dir, "new")), Is.False);
            // without a user namespace the container's root is the host's
            Assert.That(Ok(Run("run", "--rm", "-v", $"{dir}:/v", "busybox", "cat", "/v/secret")), Is.EqualTo("host only"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void ContainersGetDisjointBlocksAndARemovedContainersBlockIsFreed()
    {
        var a = Ok(Run("create", "--userns=auto", "busybox", "true"));
        var b = Ok(Run("create", "--userns=auto:size=1000", "busybox", "true"));
        var c = Ok(Run("create", "--userns=auto", "busybox", "true"));
        try
        {
            var blocks = new[] { a, b, c }.Select(Block).ToList();
            for (int i = 0; i < blocks.Count; i++)
                for (int j = i + 1; j < blocks.Count; j++)
                    Assert.That(blocks[i].Host + blocks[i].Size <= blocks[j].Host || blocks[j].Host + blocks[j].Size <= blocks[i].Host,
                        $"{blocks[i]} and {blocks[j]} overlap");
            Assert.That(blocks[1].Size, Is.EqualTo(1000u));
            Ok(Run("rm", a));
            var d = Ok(Run("create", "--userns=auto", "busybox", "true"));
            try { Assert.That(Block(d).Host, Is.EqualTo(blocks[0].Host), "the lowest free block is taken again"); }
            finally { Run("rm", d); }
        }
        finally { Run("rm", "-f", a, b, c); }
    }

    /// <summary>The container's uid block from its config.json (linux.uidMappings).</summary>
    static (uint Host, uint Size) Block(string id)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Incrun.ContainersDir, id, "config.json")))!;
        var m = config["linux"]!["uidMappings"]![0]!;
        Assert.That(config["linux"]!["namespaces"]!.AsArray().Any(n => (string?)n!["type"] == "user"));
        return ((uint)m["hostID"]!, (uint)m["size"]!);
    }

    [TestCase("--userns=bogus", "invalid --userns \"bogus\": host or auto[:size=N]")]
    [TestCase("--userns=auto:size=0", "invalid --userns option \"size=0\"")]
    [TestCase("--userns=auto --privileged", "privileged mode is incompatible with user namespaces; use --userns=host")]
    [TestCase("--userns=auto --network=host", "cannot share the host's network namespace when user namespaces are enabled")]
    public void ConflictingOrBadFlagsAreOneLineAndCreateNothing(string flags, string message)
    {
        var r = Run(["run", "--rm", .. flags.Split(' '), "busybox", "true"]);
        Assert.That(r.ExitCode, Is.EqualTo(125));
        Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain(message));
    }

    [Test]
    public void OciBundleWithIdMappings()
    {
        using var b = new OciBundle();
        // init runs as the mapped root: it must be able to reach the bundle (the temp dir is 0700)
        File.SetUnixFileMode(b.Dir, (UnixFileMode)0x1c9 /* 0711 */);
        b.Args("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox; ls /sys/fs/cgroup | head -1");
        b.Edit(c =>
        {
            var linux = c["linux"]!.AsObject();
            linux["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" });
            linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 3000000000u, ["size"] = 65536 });
            linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 3000000000u, ["size"] = 65536 });
        });
        var r = b.Oci("run", "--bundle", b.Bundle, "u1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var lines = r.Stdout.Trim().Split('\n');
        Assert.That(UidMap(lines[0]), Is.EqualTo(new[] { "0", "3000000000", "65536" }));
        Assert.That(UidMap(lines[1]), Is.EqualTo(new[] { "0", "3000000000", "65536" }));
        Assert.That(lines[2], Is.EqualTo("0"));
        Assert.That(lines[3], Is.EqualTo("65534"), "the bundle's rootfs belongs to the host's root, unmapped inside");
        Assert.That(lines[4], Is.Not.Empty, "/sys/fs/cgroup shows the container's cgroup (bind mounts: no cgroup namespace)");
        Assert.That(Directory.GetFileSystemEntries(b.Root), Is.Empty);
    }

    [Test]
    public void OciUserNamespaceWithoutMappingsIsRefused()
    {
        using var b = new OciBundle();
        b.Edit(c => c["linux"]!["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" }));
        var r = b.Oci("run", "--bundle", b.Bundle, "u2");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Does.EndWith("a new user namespace needs linux.uidMappings and linux.gidMappings"));
        Assert.That(Directory.Exists(b.Root) ? Directory.GetFileSystemEntries(b.Root) : [], Is.Empty);
    }
}
