using System.Text.Json;
using Inception.Runtime.Oci;
using Inception.Runtime.Security;
using Inception.Runtime.Security.Seccomp;

namespace Inception.Runtime.OciRuntime;

/// <summary>`spec` (runc's default config.json: sh on a terminal, read-only rootfs, the usual mounts,
/// masked paths and namespaces) and `features` (what this runtime really supports).</summary>
public static class SpecTemplate
{
    public static Spec Default() => new()
    {
        OciVersion = "1.2.0",
        Process = new Process
        {
            Terminal = true,
            Args = ["sh"],
            Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            Cwd = "/",
            Capabilities = new LinuxCapabilities
            {
                Bounding = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                Effective = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                Permitted = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            },
            Rlimits = [new Rlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
            NoNewPrivileges = true,
        },
        Root = new Root { Path = "rootfs", Readonly = true },
        Hostname = "incrun",
        Mounts =
        [
            new() { Destination = "/proc", Type = "proc", Source = "proc" },
            new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
            new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] },
        ],
        Linux = new Linux
        {
            Resources = new LinuxResources { Devices = [new LinuxDeviceCgroup { Allow = false, Access = "rwm" }] },
            Namespaces = [new() { Type = "pid" }, new() { Type = "network" }, new() { Type = "ipc" }, new() { Type = "uts" }, new() { Type = "mount" }, new() { Type = "cgroup" }],
            MaskedPaths = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    };

    /// <summary>The OCI features document (features.md): only what incrun implements.</summary>
    public static byte[] Features()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("ociVersionMin", "1.0.0");
            w.WriteString("ociVersionMax", "1.2.0");
            Array(w, "hooks", ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
            Array(w, "mountOptions", Rootfs.MountOptions.Known);
            w.WriteStartObject("linux");
            Array(w, "namespaces", ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]);
            Array(w, "capabilities", Capabilities.All);
            w.WriteStartObject("cgroup");
            w.WriteBoolean("v1", true);
            w.WriteBoolean("v2", true);
            w.WriteBoolean("systemd", false);
            w.WriteBoolean("systemdUser", false);
            w.WriteBoolean("rdma", false);
            w.WriteEndObject();
            w.WriteStartObject("seccomp");
            w.WriteBoolean("enabled", SeccompFeatures.Enabled);
            if (SeccompFeatures.Enabled)
            {
                Array(w, "actions", SeccompFeatures.Actions());
                Array(w, "operators", SeccompFeatures.Operators);
                Array(w, "archs", SeccompFeatures.Architectures);
                Array(w, "knownFlags", SeccompFeatures.KnownFlags);
                Array(w, "supportedFlags", SeccompFeatures.SupportedFlags());
            }
            w.WriteEndObject();
            w.WriteStartObject("apparmor");
            w.WriteBoolean("enabled", false);
            w.WriteEndObject();
            w.WriteStartObject("selinux");
            w.WriteBoolean("enabled", false);
            w.WriteEndObject();
            w.WriteStartObject("intelRdt");
            w.WriteBoolean("enabled", false);
            w.WriteEndObject();
            w.WriteStartObject("mountExtensions");
            w.WriteStartObject("idmap");
            w.WriteBoolean("enabled", false);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("annotations");
            w.WriteString("org.incrun.runtime", "incrun-oci");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    static void Array(Utf8JsonWriter w, string name, IEnumerable<string> items)
    {
        w.WriteStartArray(name);
        foreach (var i in items) w.WriteStringValue(i);
        w.WriteEndArray();
    }
}
