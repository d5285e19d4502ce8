using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Inception.Runtime.Oci;
using NUnit.Framework;

namespace Inception.Runtime.Tests.Unit;

/// <summary>SpecReader (the start path's config.json reader) must read exactly what System.Text.Json's
/// OciJson reads: every property of every type of Spec.cs, the same nulls and defaults, the same errors.</summary>
public class SpecReaderTests
{
    /// <summary>A value for every [JsonPropertyName] property, recursively, all different and none a default.</summary>
    static object Fill(Type type, ref int seed)
    {
        seed++;
        var inner = Nullable.GetUnderlyingType(type) ?? type;
        if (inner == typeof(string)) return $"s{seed}";
        if (inner == typeof(bool)) return true;
        if (inner == typeof(uint)) return (uint)seed;
        if (inner == typeof(int)) return -seed;
        if (inner == typeof(long)) return -1000L * seed;
        if (inner == typeof(ulong)) return 1000UL * (ulong)seed + (1UL << 40);
        if (inner == typeof(ushort)) return (ushort)seed;
        if (inner.IsGenericType && inner.GetGenericTypeDefinition() == typeof(List<>))
        {
            var list = (IList)Activator.CreateInstance(inner)!;
            for (int i = 0; i < 2; i++) list.Add(Fill(inner.GetGenericArguments()[0], ref seed));
            return list;
        }
        if (inner == typeof(Dictionary<string, string>))
            return new Dictionary<string, string> { [$"k{seed}"] = $"v{seed}", [$"k.{seed}/x"] = $"w{seed}" };
        var obj = Activator.CreateInstance(inner)!;
        foreach (var p in inner.GetProperties())
            if (p.GetCustomAttribute<JsonPropertyNameAttribute>() is not null && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
                p.SetValue(obj, Fill(p.PropertyType, ref seed));
        return obj;
    }

    static T Full<T>() { int seed = 0; return (T)Fill(typeof(T), ref seed); }

    static string Json(Spec? s) => JsonSerializer.Serialize(s, OciJson.Default.Spec);

    [Test]
    public void ReadsEveryPropertyOfEveryType()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(Full<Spec>(), OciJson.Default.Spec);
        Assert.That(Json(SpecReader.Read(json)), Is.EqualTo(Json(JsonSerializer.Deserialize(json, OciJson.Default.Spec))));
        Assert.That(Json(SpecReader.Read(json)), Is.EqualTo(Encoding.UTF8.GetString(json)));
        Assert.That(Encoding.UTF8.GetString(json), Does.Contain("throttleWriteIOPSDevice").And.Contain("valueTwo").And.Contain("disableOOMKiller"));

        var process = JsonSerializer.SerializeToUtf8Bytes(Full<Process>(), OciJson.Default.Process);
        Assert.That(JsonSerializer.Serialize(SpecReader.ReadProcess(process), OciJson.Default.Process), Is.EqualTo(Encoding.UTF8.GetString(process)));

        var resources = new Spec { Linux = new Linux { Resources = Full<LinuxResources>() } };
        var back = SpecReader.ReadResources(JsonSerializer.SerializeToUtf8Bytes(resources.Linux.Resources, OciJson.Default.Spec.Options));
        Assert.That(Json(new Spec { Linux = new Linux { Resources = back } }), Is.EqualTo(Json(resources)));
    }

    static readonly string[] Documents =
    [
        // runc spec's defaults, with comments, a trailing comma and properties this runtime does not know
        """
        {
          "ociVersion": "1.0.2-dev", // runc's
          "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": [ "sh" ],
            "env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" ], "cwd": "/",
            "capabilities": { "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL" ], "effective": [ "CAP_KILL" ] },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ], "noNewPrivileges": true,
            "unknown": { "deep": [ 1, { "x": null } ] } },
          "root": { "path": "rootfs", "readonly": true },
          "hostname": "runc",
          "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] }, ],
          /* block comment */
          "linux": { "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [ { "type": "pid" }, { "type": "network" }, { "type": "mount" } ],
            "maskedPaths": [ "/proc/acpi" ], "readonlyPaths": [ "/proc/bus" ], "uidMappings": [ { "containerID": 0 } ] }
        }
        """,
        // nulls: reference properties become null, nullable numbers null, list elements null
        """{ "process": null, "root": null, "mounts": null, "hooks": { "prestart": null }, "linux": { "sysctl": { "a": null }, "resources": { "memory": { "limit": null } } }, "annotations": { "x": "y" } }""",
        """{ "process": { "args": [ "a", null ], "user": { "umask": null, "additionalGids": [ 1, 2 ] }, "consoleSize": { "height": 24, "width": 80 } } }""",
        // escaped names and values, a property given twice (the last wins), the wrong case (not ours)
        """{ "\u006fciVersion": "1.\u0031", "hostname": "a", "hostname": "b", "Hostname": "c", "domainname": "\ud83d\ude00" }""",
        "null",
        "{}",
    ];

    [TestCaseSource(nameof(Documents))]
    public void ReadsWhatOciJsonReads(string document)
    {
        var bytes = Encoding.UTF8.GetBytes(document);
        var expected = JsonSerializer.Deserialize(bytes, OciJson.Default.Spec);
        Assert.That(Json(SpecReader.Read(bytes)), Is.EqualTo(Json(expected)));
    }

    /// <summary>SpecWriter writes the bytes OciJsonWriter writes: every property, escapes, nulls left out.</summary>
    [Test]
    public void WritesWhatOciJsonWriterWrites()
    {
        var full = Full<Spec>();
        full.Hostname = "<h&o's\"t> ü \u0001 \ud83d\ude00";
        full.Process!.Args = ["a", null!, "+x"];
        full.Annotations!["<k>"] = null!;
        full.Linux!.Resources!.Devices!.Add(null!);
        var samples = new List<Spec> { full, new(), new() { Mounts = null!, Process = new() { Args = null!, User = null! } }, SpecTemplate() };
        samples.AddRange(Documents.Where(d => d != "null").Select(d => JsonSerializer.Deserialize(Encoding.UTF8.GetBytes(d), OciJson.Default.Spec)!));
        foreach (var spec in samples)
            Assert.That(Encoding.UTF8.GetString(SpecWriter.Write(spec)),
                Is.EqualTo(Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonWriter.Default.Spec))));
    }

    static Spec SpecTemplate() => OciRuntime.SpecTemplate.Default();

    static readonly string[] BadDocuments =
    [
        """{ "process": { "terminal": "yes" } }""",
        """{ "process": { "user": { "uid": -1 } } }""",
        """{ "process": { "user": { "uid": 1.5 } } }""",
        """{ "process": { "user": { "uid": null } } }""",
        """{ "process": { "args": [ "a", 1 ] } }""",
        """{ "linux": { "namespaces": [ { "type": "pid" }, { "type": 7 } ] } }""",
        """{ "linux": { "sysctl": { "net.ipv4.ip_forward": 1 } } }""",
        """{ "linux": { "resources": { "blockIO": { "weight": 70000 } } } }""",
        """{ "mounts": { } }""",
        """{ "hooks": { "poststop": [ { "path": "/x", "timeout": "5" } ] } }""",
        "[ ]",
        "{ \"hostname\": \"a\"\n  \"x\": 1 }",
        """{ "hostname": "a" } { }""",
        """{ "hostname": """,
        "",
        "\uFEFF{ \"hostname\": \"bom\" }",   // System.Text.Json takes no byte order mark either
    ];

    [TestCaseSource(nameof(BadDocuments))]
    public void FailsWhereOciJsonFails(string document)
    {
        var bytes = Encoding.UTF8.GetBytes(document);
        var expected = Assert.Throws(Is.InstanceOf<JsonException>(), () => JsonSerializer.Deserialize(bytes, OciJson.Default.Spec)) as JsonException;
        var actual = Assert.Throws(Is.InstanceOf<JsonException>(), () => SpecReader.Read(bytes)) as JsonException;
        // Conversion errors name the same JSON path and position as System.Text.Json's.
        if (expected!.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            Assert.That(actual!.Path, Is.EqualTo(expected.Path));
            Assert.That(actual.LineNumber, Is.EqualTo(expected.LineNumber));
            Assert.That(actual.Message, Does.StartWith("The JSON value could not be converted to "));
        }
        else Assert.That(actual!.LineNumber, Is.EqualTo(expected.LineNumber));
    }

    /// <summary>state.json and the state documents: read by OciRecord.Read and written by ToJson exactly
    /// as OciRuntimeJson reads and writes them.</summary>
    [Test]
    public void StateDocumentsMatchOciRuntimeJson()
    {
        var record = new OciRuntime.OciRecord
        {
            Id = "a.1", Pid = 42, PidStart = 123456789012, Bundle = "/b", Rootfs = "/b/rootfs", Created = DateTime.UtcNow,
            CgroupsPath = "/incrun/a.1", Annotations = new() { ["k"] = "v\"x" },
        };
        var json = record.ToJson();
        Assert.That(json, Is.EqualTo(JsonSerializer.SerializeToUtf8Bytes(record, OciRuntime.OciRuntimeJson.Default.OciRecord)));
        var back = OciRuntime.OciRecord.Read(json);
        Assert.That(JsonSerializer.SerializeToUtf8Bytes(back, OciRuntime.OciRuntimeJson.Default.OciRecord), Is.EqualTo(json));
        Assert.That(back!.Created, Is.EqualTo(record.Created));
        Assert.That(OciRuntime.OciRecord.Read("null"u8), Is.Null);
        Assert.Throws(Is.InstanceOf<JsonException>(), () => OciRuntime.OciRecord.Read("""{ "pid": "42" }"""u8));

        var state = new OciRuntime.OciState { Id = "a", Pid = 7, Status = "created", Bundle = "/b", Rootfs = "/b/r", Created = record.Created, Owner = "root" };
        Assert.That(state.ToJsonString(), Is.EqualTo(JsonSerializer.Serialize(state, OciRuntime.OciRuntimeJson.Default.OciState)));
        state.Annotations = new() { ["<a>"] = "ü&'", ["n"] = null! };
        Assert.That(state.ToJsonString(), Is.EqualTo(JsonSerializer.Serialize(state, OciRuntime.OciRuntimeJson.Default.OciState)));
    }
}
