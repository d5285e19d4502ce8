using NUnit.Framework;

namespace Inception.Runtime.Tests;

/// <summary>A fresh temporary directory per test, removed afterwards.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public abstract class TempDirTest
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateTempDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), "incrun-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    [TearDown]
    public void RemoveTempDir()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Creates a file under <see cref="Dir"/> (and its parents) and returns its full path.</summary>
    protected string MakeFile(string relative, string content = "")
    {
        var path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Creates a directory under <see cref="Dir"/> and returns its full path.</summary>
    protected string MakeDir(string relative) => Directory.CreateDirectory(Path.Combine(Dir, relative)).FullName;
}
