namespace Inception.Runtime.Run;

/// <summary>What <c>incrun run</c> was asked for, flags already parsed.</summary>
public sealed record RunOptions
{
    public required string Image { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];
    public bool Interactive { get; init; }
    public bool Tty { get; init; }
    public bool Remove { get; init; }
    public string? Name { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public IReadOnlyList<string> EnvFiles { get; init; } = [];
    public string? Workdir { get; init; }
    public string? User { get; init; }
    public string? Hostname { get; init; }
    public IReadOnlyList<string> Volumes { get; init; } = [];
    public string? Entrypoint { get; init; }
    /// <summary>bridge (docker's default), none, host, container:NAME, or a user network.</summary>
    public string Network { get; init; } = "bridge";
    public IReadOnlyList<string> Publish { get; init; } = [];
    public bool PublishAll { get; init; }
    public IReadOnlyList<string> NetworkAliases { get; init; } = [];
    /// <summary>The netns a --network container:NAME container joins (/proc/PID/ns/net), set by the runner.</summary>
    public string? NetnsPath { get; init; }
    public bool ReadOnly { get; init; }
    public IReadOnlyList<string> CapAdd { get; init; } = [];
    public IReadOnlyList<string> CapDrop { get; init; } = [];
    public bool Privileged { get; init; }
    /// <summary>--userns: host (or unset) or auto[:size=N] (see <see cref="Security.UserNamespaces"/>).</summary>
    public string? Userns { get; init; }
    /// <summary>The block of host ids a --userns=auto container got, set by the runner.</summary>
    public Security.UserRange? IdRange { get; init; }
    public IReadOnlyList<string> SecurityOpts { get; init; } = [];
    public ResourceFlags Resources { get; init; } = new();
    public IReadOnlyList<string> Ulimits { get; init; } = [];
    public IReadOnlyList<string> Sysctls { get; init; } = [];
    public IReadOnlyList<string> Tmpfs { get; init; } = [];
    public int? OomScoreAdj { get; init; }
    public IReadOnlyList<string> Devices { get; init; } = [];
    /// <summary>--restart: no, always, unless-stopped, on-failure[:N].</summary>
    public string? Restart { get; init; }
    public string? StopSignal { get; init; }
    public int? StopTimeout { get; init; }
    /// <summary>--log-opt max-size=10m, max-file=3.</summary>
    public IReadOnlyList<string> LogOpts { get; init; } = [];
    /// <summary>Where the pull of a missing image reports (the command line draws it).</summary>
    public Images.Registry.ITransferProgress? PullProgress { get; init; }
}

/// <summary>docker's resource flags as typed (units and all); <see cref="ResourceParser"/> checks them.</summary>
public sealed record ResourceFlags
{
    public string? Memory { get; init; }
    public string? MemoryReservation { get; init; }
    public string? MemorySwap { get; init; }
    public string? KernelMemory { get; init; }
    public string? Cpus { get; init; }
    public long? CpuShares { get; init; }
    public long? CpuQuota { get; init; }
    public long? CpuPeriod { get; init; }
    public string? CpusetCpus { get; init; }
    public string? CpusetMems { get; init; }
    public long? PidsLimit { get; init; }
    public bool OomKillDisable { get; init; }
    public string? CgroupParent { get; init; }
    public long? BlkioWeight { get; init; }
    public IReadOnlyList<string> DeviceReadBps { get; init; } = [];
    public IReadOnlyList<string> DeviceWriteBps { get; init; } = [];
    public IReadOnlyList<string> DeviceReadIops { get; init; } = [];
    public IReadOnlyList<string> DeviceWriteIops { get; init; } = [];
}

/// <summary>The parts of an image's config that a run uses (docker's Config section).</summary>
public sealed record ImageDefaults
{
    public IReadOnlyList<string> Env { get; init; } = [];
    public IReadOnlyList<string>? Entrypoint { get; init; }
    public IReadOnlyList<string>? Cmd { get; init; }
    public string? WorkingDir { get; init; }
    public string? User { get; init; }
    /// <summary>EXPOSE entries ("80/tcp"), for -P.</summary>
    public IReadOnlyList<string> ExposedPorts { get; init; } = [];
}

/// <summary>What <c>incrun exec</c> was asked for, flags already parsed.</summary>
public sealed record ExecOptions
{
    public required string Container { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];
    public bool Interactive { get; init; }
    public bool Tty { get; init; }
    public bool Detach { get; init; }
    public string? User { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public IReadOnlyList<string> EnvFiles { get; init; } = [];
    public string? Workdir { get; init; }
    public bool Privileged { get; init; }
}
