using System.Text.Json;
using Inception.Runtime.Images;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Images;

[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ImageConfigTests
{
    const string DockerConfig = """
        {"architecture":"amd64","config":{"Hostname":"","User":"nobody","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
         "Entrypoint":["/entry"],"Cmd":["sh"],"WorkingDir":"/srv","ExposedPorts":{"80/tcp":{}},"Labels":{"a":"b"},"StopSignal":"SIGQUIT",
         "Volumes":{"/data":{}},"Healthcheck":{"Test":["CMD","true"]}},
         "created":"2023-05-19T20:19:23.912413917Z","history":[{"created":"2023-05-19T20:19:23.6Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / ","empty_layer":true}],
         "os":"linux","os.version":"x","rootfs":{"type":"layers","diff_ids":["sha256:feb5d9fea6a5e9606aa995e879d862b825965ba48de054caab5ef356dc6b3412"]}}
        """;

    [Test]
    public void ReadsADockerConfigAndWritesItBackInDockerCasing()
    {
        var c = JsonSerializer.Deserialize(DockerConfig, ImageJsonContext.Default.ImageConfig)!;
        Assert.That(c.Created, Is.EqualTo(new DateTimeOffset(2023, 5, 19, 20, 19, 23, TimeSpan.Zero).AddTicks(9124139)));
        Assert.That(c.Config.User, Is.EqualTo("nobody"));
        Assert.That(c.Config.GetEnv("PATH"), Does.StartWith("/usr/local/sbin"));
        Assert.That(c.Config.Entrypoint, Is.EqualTo(new[] { "/entry" }));
        Assert.That(c.Config.WorkingDir, Is.EqualTo("/srv"));
        Assert.That(c.Config.ExposedPorts!.Keys, Is.EqualTo(new[] { "80/tcp" }));
        Assert.That(c.Config.Volumes!.Keys, Is.EqualTo(new[] { "/data" }));
        Assert.That(c.Config.StopSignal, Is.EqualTo("SIGQUIT"));
        Assert.That(c.RootFs.DiffIds, Has.Count.EqualTo(1));
        Assert.That(c.History![0].EmptyLayer, Is.True);

        var json = JsonSerializer.Serialize(c, ImageJsonContext.Default.ImageConfig);
        Assert.That(json, Does.Contain("\"created\":\"2023-05-19T20:19:23.9124139Z\""));
        Assert.That(json, Does.Contain("\"ExposedPorts\":{\"80/tcp\":{}}"));
        Assert.That(json, Does.Contain("\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"]}"), "unknown config fields survive");
        Assert.That(json, Does.Contain("\"os.version\":\"x\""), "unknown top-level fields survive");
        Assert.That(json, Does.Contain("\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:feb5"));
        Assert.That(json, Does.Not.Contain("null"));
    }
}
