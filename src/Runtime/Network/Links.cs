using System.Buffers.Binary;
using System.Net;
using Inception.Runtime.Errors;
using Inception.Runtime.Native;
using static Inception.Runtime.Native.Netlink;

namespace Inception.Runtime.Network;

/// <summary>The link work of a bridge network over rtnetlink (no <c>ip</c> subprocess): the host bridge,
/// one veth pair per container created with its peer already inside the container's netns as eth0, and
/// the container side's address and default route.</summary>
internal static class Links
{
    const int EEXIST = 17, ENODEV = 19, ESRCH = 3;

    /// <summary>Creates the bridge (if missing) with the gateway address and brings it up. True when it was created.</summary>
    public static bool EnsureBridge(Netlink nl, string name, IPAddress gateway, int prefix)
    {
        int r = nl.Request(new MessageBuilder(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).IfInfo()
            .Attr(IFLA_IFNAME, name).Begin(IFLA_LINKINFO).Attr(IFLA_INFO_KIND, "bridge").End());
        if (r < 0 && -r != EEXIST) throw new RuntimeError("create bridge", name, -r);
        bool created = r == 0;
        int index = Index(nl, name) ?? throw new RuntimeError("create bridge", name, ENODEV);
        AddAddress(nl, index, gateway, prefix, name);
        SetUp(nl, index, name);
        return created;
    }

    /// <summary>Creates the veth pair: <paramref name="hostName"/> on the host, enslaved to the bridge and
    /// up; its peer made directly inside the netns <paramref name="netnsFd"/> as <paramref name="peerName"/> (down: the
    /// kernel refuses IFF_UP for a peer created in another netns with ENOTCONN; it is set up from inside).</summary>
    public static void CreateVeth(Netlink nl, string hostName, int bridgeIndex, int netnsFd, string peerName)
    {
        var m = new MessageBuilder(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).IfInfo(0, IFF_UP, IFF_UP)
            .Attr(IFLA_IFNAME, hostName).Attr(IFLA_MASTER, bridgeIndex)
            .Begin(IFLA_LINKINFO).Attr(IFLA_INFO_KIND, "veth")
                .Begin(IFLA_INFO_DATA).Begin(VETH_INFO_PEER).IfInfo()
                    .Attr(IFLA_IFNAME, peerName).Attr(IFLA_NET_NS_FD, netnsFd)
                .End().End()
            .End();
        int r = nl.Request(m);
        if (r < 0) throw new RuntimeError("create veth", $"{hostName}, {peerName} in the container", -r);
    }

    /// <summary>Deletes a link by name; false when it does not exist (any more).</summary>
    public static bool Delete(Netlink nl, string name)
    {
        int r = nl.Request(new MessageBuilder(RTM_DELLINK, NLM_F_ACK).IfInfo().Attr(IFLA_IFNAME, name));
        if (r < 0 && -r is ENODEV or ESRCH) return false;
        if (r < 0) throw new RuntimeError("delete link", name, -r);
        return true;
    }

    public static int? Index(Netlink nl, string name)
    {
        var reply = nl.Get(new MessageBuilder(RTM_GETLINK, 0).IfInfo().Attr(IFLA_IFNAME, name));
        return reply is { Length: >= 16 } ? BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4)) : null;
    }

    public static void AddAddress(Netlink nl, int index, IPAddress address, int prefix, string device)
    {
        var a = address.GetAddressBytes();
        var broadcast = Ipv4.Broadcast(address, prefix).GetAddressBytes();
        int r = nl.Request(new MessageBuilder(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).IfAddr(index, (byte)prefix)
            .Attr(IFA_LOCAL, a).Attr(IFA_ADDRESS, a).Attr(IFA_BROADCAST, broadcast));
        if (r < 0 && -r != EEXIST) throw new RuntimeError("add address", $"{address}/{prefix} on {device}", -r);
    }

    public static void SetUp(Netlink nl, int index, string device)
    {
        int r = nl.Request(new MessageBuilder(RTM_NEWLINK, NLM_F_ACK).IfInfo(index, IFF_UP, IFF_UP));
        if (r < 0) throw new RuntimeError("set link up", device, -r);
    }

    public static void AddDefaultRoute(Netlink nl, int index, IPAddress gateway)
    {
        int r = nl.Request(new MessageBuilder(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).Route(0)
            .Attr(RTA_GATEWAY, gateway.GetAddressBytes()).Attr(RTA_OIF, index));
        if (r < 0 && -r != EEXIST) throw new RuntimeError("add default route", $"via {gateway}", -r);
    }
}
