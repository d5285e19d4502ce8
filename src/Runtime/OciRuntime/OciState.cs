using System.Text.Json;
using System.Text.Json.Serialization;
using Inception.Runtime.Oci;

namespace Inception.Runtime.OciRuntime;

/// <summary>The OCI state of a container (runtime.md#state), as `state` prints it and hooks read it on
/// stdin; rootfs, created and owner are the fields runc adds, which engines read too.</summary>
public sealed class OciState
{
    [JsonPropertyName("ociVersion")] public string OciVersion { get; set; } = "1.2.0";
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("pid")] public int Pid { get; set; }
    [JsonPropertyName("status")] public string Status { get; set; } = "creating";
    [JsonPropertyName("bundle")] public string Bundle { get; set; } = "";
    [JsonPropertyName("rootfs")] public string Rootfs { get; set; } = "";
    [JsonPropertyName("created")] public DateTime Created { get; set; }
    [JsonPropertyName("owner")] public string Owner { get; set; } = "";
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>The document as OciRuntimeJson writes it (see SpecWriter: no serializer start-up on the way).</summary>
    public byte[] ToJson() => SpecWriter.Document(w =>
    {
        w.WriteStartObject();
        SpecWriter.Str(w, "ociVersion", OciVersion);
        SpecWriter.Str(w, "id", Id);
        w.WriteNumber("pid", Pid);
        SpecWriter.Str(w, "status", Status);
        SpecWriter.Str(w, "bundle", Bundle);
        SpecWriter.Str(w, "rootfs", Rootfs);
        w.WriteString("created", Created);
        SpecWriter.Str(w, "owner", Owner);
        SpecWriter.StringMap(w, "annotations", Annotations);
        w.WriteEndObject();
    });

    public string ToJsonString() => System.Text.Encoding.UTF8.GetString(ToJson());
}

/// <summary>What the runtime keeps in &lt;root&gt;/&lt;id&gt;/state.json between verbs.</summary>
public sealed class OciRecord
{
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("pid")] public int Pid { get; set; }
    /// <summary>/proc/PID/stat start time: tells the container's process from a later one with its pid.</summary>
    [JsonPropertyName("pidStart")] public ulong PidStart { get; set; }
    [JsonPropertyName("bundle")] public string Bundle { get; set; } = "";
    [JsonPropertyName("rootfs")] public string Rootfs { get; set; } = "";
    [JsonPropertyName("created")] public DateTime Created { get; set; }
    [JsonPropertyName("cgroupsPath")] public string CgroupsPath { get; set; } = "";
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>state.json as OciRuntimeJson writes it (see SpecWriter).</summary>
    public byte[] ToJson() => SpecWriter.Document(w =>
    {
        w.WriteStartObject();
        SpecWriter.Str(w, "id", Id);
        w.WriteNumber("pid", Pid);
        w.WriteNumber("pidStart", PidStart);
        SpecWriter.Str(w, "bundle", Bundle);
        SpecWriter.Str(w, "rootfs", Rootfs);
        w.WriteString("created", Created);
        SpecWriter.Str(w, "cgroupsPath", CgroupsPath);
        SpecWriter.StringMap(w, "annotations", Annotations);
        w.WriteEndObject();
    });

    /// <summary>Reads state.json (as OciRuntimeJson would, without its start-up cost: see SpecReader).</summary>
    public static OciRecord? Read(ReadOnlySpan<byte> json) => SpecReader.Root(json, Read);

    static OciRecord Read(ref Utf8JsonReader r)
    {
        var o = new OciRecord();
        while (SpecReader.Next(ref r, out var name))
            switch (name)
            {
                case "id": o.Id = SpecReader.Property(ref r, name, SpecReader.String)!; break;
                case "pid": o.Pid = SpecReader.Property(ref r, name, SpecReader.Int); break;
                case "pidStart": o.PidStart = SpecReader.Property(ref r, name, SpecReader.ULong); break;
                case "bundle": o.Bundle = SpecReader.Property(ref r, name, SpecReader.String)!; break;
                case "rootfs": o.Rootfs = SpecReader.Property(ref r, name, SpecReader.String)!; break;
                case "created": o.Created = SpecReader.Property(ref r, name, SpecReader.Date); break;
                case "cgroupsPath": o.CgroupsPath = SpecReader.Property(ref r, name, SpecReader.String)!; break;
                case "annotations": o.Annotations = SpecReader.Property(ref r, name, SpecReader.StringMap); break;
                default: r.Skip(); break;
            }
        return o;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(List<OciState>))]
[JsonSerializable(typeof(OciRecord))]
[JsonSerializable(typeof(List<int>))]
internal sealed partial class OciRuntimeJson : JsonSerializerContext;
