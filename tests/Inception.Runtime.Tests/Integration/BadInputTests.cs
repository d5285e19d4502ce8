using NUnit.Framework;

namespace Inception.Runtime.Tests.Integration;

/// <summary>Each bad input: one line on stderr naming the problem, exit 125/126/127, nothing created.</summary>
public sealed class BadInputTests : ContainerTest
{
    static void OneLine(RunResult r, int code, string contains)
    {
        Assert.That(r.ExitCode, Is.EqualTo(code), r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith("incrun: ").And.Contain(contains), r.Stderr);
        Assert.That(r.Stdout, Is.Empty);
    }

    [Test]
    public void UnknownFlag()
    {
        var r = Run("run", "--nosuch", "busybox", "true");
        OneLine(r, 125, "--nosuch");
        Assert.That(r.Stderr, Does.Contain("See 'incrun run --help'."));
    }

    [Test]
    public void UnknownImage() => OneLine(Run("run", "--rm", "nosuchimage", "true"), 125, "Unable to find image 'nosuchimage:latest' locally");

    [Test]
    public void MissingImageArgument() => OneLine(Run("run"), 125, "IMAGE");

    [Test]
    public void NoCommand() => OneLine(Run("run", "--rm", "--entrypoint", "", "busybox"), 125, "No command specified");

    [Test]
    public void RelativeVolumePath() => OneLine(Run("run", "--rm", "-v", "data:/data", "busybox", "true"), 125, "must be absolute");

    [Test]
    public void RelativeContainerPath() => OneLine(Run("run", "--rm", "-v", "/tmp:data", "busybox", "true"), 125, "must be absolute");

    [Test]
    public void RelativeWorkdir() => OneLine(Run("run", "--rm", "-w", "rel", "busybox", "true"), 125, "needs to be an absolute path");

    [Test]
    public void UnknownNetwork() => OneLine(Run("run", "--rm", "--network", "nosuch", "busybox", "true"), 125, "network nosuch not found");

    [Test]
    public void BadRestartPolicy() => OneLine(Run("run", "-d", "--restart", "sometimes", "busybox", "true"), 125, "invalid restart policy");

    [Test]
    public void NonRootUserIsRefused()
    {
        var psi = Incrun.StartInfo(["--reuid=65534", "--regid=65534", "--clear-groups", Incrun.Binary, "run", "--rm", "busybox", "true"], "setpriv");
        OneLine(Incrun.Exec(psi, null, TimeSpan.FromSeconds(30)), 125, "needs root");
    }

    [Test]
    public void MalformedTarIsRejectedAndNoImageAppears()
    {
        var before = Run("images", "-q").Stdout;
        var bad = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(bad, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]); // a gzip header, then garbage
            OneLine(Run("import", bad, "broken:1"), 125, "");
            File.WriteAllText(bad, new string('x', 2000));
            OneLine(Run("import", bad, "broken:2"), 125, "");
        }
        finally { File.Delete(bad); }
        Assert.That(Run("images", "-q").Stdout, Is.EqualTo(before));
        Assert.That(Directory.GetDirectories(Path.Combine(Incrun.StateRoot, "layers")).Where(d => !d.EndsWith("sha256")), Is.Empty, "partial layer left");
    }

    [Test]
    public void WorkdirSymlinkCannotEscapeTheRoot()
    {
        // WORKDIR /wd where /wd -> ../../../<host dir>/sub: init creates and enters it inside the container's root.
        var hostTarget = Directory.CreateTempSubdirectory("incrun-wd-").FullName;
        var tar = BuildTar(Path.Combine(Path.GetTempPath(), $"incrun-wd-{Guid.NewGuid():N}.tar"), ("wd", "../../../../../../../.." + hostTarget + "/sub"));
        try
        {
            Assert.That(Run("import", "-c", "WORKDIR /wd", "-c", "CMD [\"/bin/sh\", \"-c\", \"touch here && echo made\"]", tar, "badwd:1").ExitCode, Is.EqualTo(0));
            var r = Run("run", "--rm", "badwd:1");
            Assert.That(r.Stdout, Is.EqualTo("made\n"), r.ToString());
            Assert.That(Directory.GetFileSystemEntries(hostTarget), Is.Empty, "the working directory escaped onto the host");
        }
        finally
        {
            File.Delete(tar);
            Directory.Delete(hostTarget, true);
        }
    }

    [Test]
    public void MountTargetSymlinkCannotEscapeTheRoot()
    {
        // The image has /evil -> ../../../../../<host dir>; a -v onto /evil must land inside the container's root.
        var hostTarget = Directory.CreateTempSubdirectory("incrun-escape-").FullName;
        var source = Directory.CreateTempSubdirectory("incrun-src-").FullName;
        File.WriteAllText(Path.Combine(source, "payload"), "x");
        var tar = BuildTar(Path.Combine(Path.GetTempPath(), $"incrun-evil-{Guid.NewGuid():N}.tar"), ("evil", "../../../../../../../.." + hostTarget));
        try
        {
            Assert.That(Run("import", "-c", "CMD [\"/bin/busybox\", \"ls\", \"/evil\"]", tar, "evil:1").ExitCode, Is.EqualTo(0));
            var r = Run("run", "--rm", "-v", $"{source}:/evil", "evil:1");
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Stdout, Does.Contain("payload"), "the bind mount is visible inside");
            Assert.That(Directory.GetFileSystemEntries(hostTarget), Is.Empty, "the mount escaped onto the host directory");
        }
        finally
        {
            File.Delete(tar);
            Directory.Delete(hostTarget, true);
            Directory.Delete(source, true);
        }
    }

    /// <summary>A one-binary image (busybox from the host) with optional extra symlinks.</summary>
    static string BuildTar(string path, params (string Name, string Target)[] links)
    {
        using (var fs = File.Create(path))
        using (var w = new System.Formats.Tar.TarWriter(fs))
        {
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.Directory, "bin/") { Mode = (UnixFileMode)0x1ed });
            w.WriteEntry("/bin/busybox", "bin/busybox");
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, "bin/sh") { LinkName = "busybox" });
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, "bin/ls") { LinkName = "busybox" });
            foreach (var (name, target) in links)
                w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, name) { LinkName = target });
        }
        return path;
    }
}
