using System.Text.Json.Serialization;

namespace Inception.Runtime.State;

/// <summary>
/// What incrun knows about one container besides its OCI spec (config.json): name, status, PID, exit
/// status, restart policy and counters. Kept as <c>state.json</c> in the container's directory, replaced
/// atomically under <c>state.lock</c> (see <see cref="ContainerStore"/>).
/// </summary>
public sealed class ContainerState
{
    /// <summary>"starting": a start is under way (set before the supervisor takes over, so a start that
    /// dies half-way is recognised as a dead container rather than a created one).</summary>
    public const string CreatedStatus = "created", Starting = "starting", Running = "running", Paused = "paused", Restarting = "restarting", Exited = "exited";

    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    /// <summary>The image as the user typed it.</summary>
    public string Image { get; set; } = "";
    public string? ImageId { get; set; }
    /// <summary>The command the container runs (the spec's process.args).</summary>
    public List<string> Command { get; set; } = [];
    public DateTime Created { get; set; }
    public string Status { get; set; } = CreatedStatus;
    public int Pid { get; set; }
    public int ExitCode { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    public bool OomKilled { get; set; }
    public string? Error { get; set; }
    public int RestartCount { get; set; }
    public RestartPolicy RestartPolicy { get; set; } = new();
    /// <summary>Set by stop/kill/rm: the restart policy no longer applies until the next start.</summary>
    public bool ManuallyStopped { get; set; }
    public bool AutoRemove { get; set; }
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public string StopSignal { get; set; } = "SIGTERM";
    public int? StopTimeout { get; set; }
    public LogOptions Log { get; set; } = new();
    /// <summary>What the container asked of the network (-p, --network, aliases); attached at every start.</summary>
    public Network.NetworkRequest? Network { get; set; }
    /// <summary>The host ids of its user namespace (--userns=auto), kept while the container exists.</summary>
    public Security.UserRange? UserNs { get; set; }

    [JsonIgnore] public bool IsActive => Status is Starting or Running or Paused or Restarting;
}

/// <summary>docker's --restart: no, always, unless-stopped, on-failure[:N].</summary>
public sealed class RestartPolicy
{
    public string Name { get; set; } = "no";
    public int MaximumRetryCount { get; set; }

    public static RestartPolicy Parse(string? text)
    {
        if (string.IsNullOrEmpty(text) || text == "no") return new RestartPolicy();
        var parts = text.Split(':', 2);
        var policy = new RestartPolicy { Name = parts[0] };
        switch (parts[0])
        {
            case "always" or "unless-stopped" when parts.Length == 1:
                return policy;
            case "on-failure":
                if (parts.Length == 2 && (!int.TryParse(parts[1], out var n) || n < 0))
                    throw Errors.RuntimeError.Plain($"invalid restart policy \"{text}\": maximum retry count must be a positive integer");
                policy.MaximumRetryCount = parts.Length == 2 ? int.Parse(parts[1]) : 0;
                return policy;
            case "always" or "unless-stopped" or "no":
                throw Errors.RuntimeError.Plain($"invalid restart policy \"{text}\": maximum retry count cannot be used with restart policy '{parts[0]}'");
            default:
                throw Errors.RuntimeError.Plain($"invalid restart policy \"{text}\": use no, always, unless-stopped or on-failure[:max-retries]");
        }
    }

    /// <summary>Whether a container that exited with <paramref name="exitCode"/> after
    /// <paramref name="restarts"/> restarts starts again (a manual stop always wins).</summary>
    public bool ShouldRestart(int exitCode, int restarts, bool manuallyStopped) => !manuallyStopped && Name switch
    {
        "always" or "unless-stopped" => true,
        "on-failure" => exitCode != 0 && (MaximumRetryCount == 0 || restarts < MaximumRetryCount),
        _ => false,
    };

    public override string ToString() => Name == "on-failure" && MaximumRetryCount > 0 ? $"{Name}:{MaximumRetryCount}" : Name;
}

/// <summary>docker's json-file log driver options (--log-opt max-size=10m --log-opt max-file=3).</summary>
public sealed class LogOptions
{
    /// <summary>Bytes per file before rotation; 0 = unlimited.</summary>
    public long MaxSize { get; set; }
    public int MaxFiles { get; set; } = 1;
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class StateJson : JsonSerializerContext;
