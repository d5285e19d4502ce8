using Inception.Runtime.Errors;
using Inception.Runtime.Oci;
using Inception.Runtime.Syscalls;

namespace Inception.Runtime.Security;

/// <summary>Applies a spec's capability sets in runc's order: bounding set first (needs CAP_SETPCAP,
/// so while still root), then — after the switch of user, with keep-caps on — effective, permitted and
/// inheritable in one capset, then ambient.</summary>
internal static class CapabilityChanges
{
    public static void DropBounding(ISyscalls sys, LinuxCapabilities caps)
    {
        ulong keep = Capabilities.Mask(caps.Bounding);
        for (int cap = 0; cap <= Capabilities.LastCap; cap++)
        {
            if ((keep & (1UL << cap)) != 0) continue;
            int r = sys.DropBoundingCapability(cap);
            if (r < 0 && r != -22 /* EINVAL: unknown to this kernel */) throw new RuntimeError("prctl(PR_CAPBSET_DROP)", cap.ToString(), -r);
        }
    }

    public static void Apply(ISyscalls sys, LinuxCapabilities caps)
    {
        int r = sys.SetCapabilities(Capabilities.Mask(caps.Effective), Capabilities.Mask(caps.Permitted), Capabilities.Mask(caps.Inheritable));
        if (r < 0) throw new RuntimeError("capset", string.Join(',', caps.Effective ?? []), -r);
        foreach (var name in caps.Ambient ?? [])
        {
            r = sys.RaiseAmbientCapability(Capabilities.Number(name));
            // EPERM: not in both the permitted and inheritable sets (runc's own `runc spec` lists ambient
            // capabilities without inheritable ones): best effort, as runc, which only warns.
            if (r < 0 && r != -1) throw new RuntimeError("prctl(PR_CAP_AMBIENT_RAISE)", name, -r);
        }
    }
}
