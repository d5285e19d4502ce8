using System.CommandLine;
using System.Text.Json;
using Inception.Runtime.Network;
using Inception.Runtime.State;

namespace Inception.Runtime.Cli.Commands;

/// <summary>`incrun network create|ls|inspect|rm|prune`: bridge networks, each with its own bridge and subnet.</summary>
static class NetworkCommand
{
    public static Command Create()
    {
        var cmd = new Command("network", "Manage networks");
        var subnet = new Option<string?>("--subnet") { Description = "Subnet in CIDR format (default: a free 10.89.N.0/24)" };
        var driver = new Option<string?>("--driver", "-d") { Description = "Driver to manage the network (bridge only)" };
        var name = new Argument<string>("NETWORK");
        var create = new Command("create", "Create a network") { subnet, driver, name };
        create.SetAction(r => Output.Guard(() =>
        {
            if (r.GetValue(driver) is { } d && d != "bridge") return Output.Fail($"plugin \"{d}\" not found: incrun has the bridge driver only");
            var n = NetworkStore.Create(Root(r), r.GetValue(name)!, r.GetValue(subnet));
            Console.WriteLine(n.Id);
            return 0;
        }));

        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display network IDs" };
        var ls = new Command("ls", "List networks") { quiet };
        ls.Aliases.Add("list");
        ls.SetAction(r => Output.Guard(() =>
        {
            var root = Root(r);
            NetworkStore.Get(root, NetworkStore.DefaultNetwork);
            var rows = NetworkStore.List(root).Select(n => (Id: n.Id[..12], n.Name, Driver: "bridge", Subnet: n.Subnet))
                .Concat([(Id: "host", Name: "host", Driver: "host", Subnet: ""), (Id: "none", Name: "none", Driver: "null", Subnet: "")]).OrderBy(x => x.Name, StringComparer.Ordinal).ToList();
            if (r.GetValue(quiet)) { foreach (var x in rows) Console.WriteLine(x.Id); return 0; }
            Console.WriteLine($"{"NETWORK ID",-14}{"NAME",-20}{"DRIVER",-10}{"SCOPE",-8}SUBNET");
            foreach (var x in rows) Console.WriteLine($"{x.Id,-14}{x.Name,-20}{x.Driver,-10}{"local",-8}{x.Subnet}");
            return 0;
        }));

        var names = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var inspect = new Command("inspect", "Display detailed information on one or more networks") { names };
        inspect.SetAction(r => Output.Guard(() =>
        {
            var root = Root(r);
            var nets = r.GetValue(names)!.Select(n => NetworkStore.Get(root, n)).ToList();
            using var stdout = Console.OpenStandardOutput();
            using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                w.WriteStartArray();
                foreach (var n in nets) WriteInspect(w, root, n);
                w.WriteEndArray();
            }
            Console.WriteLine();
            return 0;
        }));

        var rmNames = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("rm", "Remove one or more networks (refused while a container uses it)") { rmNames };
        rm.Aliases.Add("remove");
        rm.SetAction(r => Output.Guard(() =>
        {
            var root = Root(r);
            int status = 0;
            foreach (var n in r.GetValue(rmNames)!)
            {
                try { NetworkStore.Remove(root, n); Console.WriteLine(n); }
                catch (Errors.RuntimeError e) { status = Output.Fail(e.Message, 1); }
            }
            return status;
        }));

        var prune = new Command("prune", "Remove all user networks no container uses");
        prune.SetAction(r => Output.Guard(() =>
        {
            foreach (var n in NetworkStore.Prune(Root(r))) Console.WriteLine($"Deleted Network: {n}");
            return 0;
        }));

        cmd.Subcommands.Add(create);
        cmd.Subcommands.Add(ls);
        cmd.Subcommands.Add(inspect);
        cmd.Subcommands.Add(rm);
        cmd.Subcommands.Add(prune);
        return cmd;
    }

    /// <summary>The state root, after reaping crashed containers (and with them their veths, leases, nft elements).</summary>
    static string Root(ParseResult r)
    {
        var root = r.GetValue(GlobalOptions.Root)!;
        ContainerDirs.ReapStale(root);
        return root;
    }

    static void WriteInspect(Utf8JsonWriter w, string root, NetworkDefinition n)
    {
        w.WriteStartObject();
        w.WriteString("Name", n.Name);
        w.WriteString("Id", n.Id);
        w.WriteString("Created", n.Created.ToString("o"));
        w.WriteString("Scope", "local");
        w.WriteString("Driver", "bridge");
        w.WriteStartObject("IPAM");
        w.WriteString("Driver", "default");
        w.WriteStartArray("Config");
        w.WriteStartObject();
        w.WriteString("Subnet", n.Subnet);
        w.WriteString("Gateway", n.Gateway);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("Containers");
        foreach (var (id, a) in ContainerNetwork.Members(root, n.Name))
        {
            w.WriteStartObject(id);
            w.WriteString("Name", a.Name);
            w.WriteString("IPv4Address", $"{a.IPAddress}/{a.PrefixLength}");
            w.WriteString("HostVeth", a.HostVeth);
            w.WriteStartArray("Aliases");
            foreach (var x in a.Aliases) w.WriteStringValue(x);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartObject("Options");
        w.WriteString("com.docker.network.bridge.name", n.Bridge);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
