using System.CommandLine;
using Inception.Runtime.Network;
using Inception.Runtime.State;

namespace Inception.Runtime.Cli.Commands;

/// <summary>`incrun port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, from its network.json.</summary>
static class PortCommand
{
    public static Command Create()
    {
        var container = new Argument<string>("CONTAINER");
        var privatePort = new Argument<string?>("PRIVATE_PORT") { Arity = ArgumentArity.ZeroOrOne, Description = "e.g. 80 or 80/tcp" };
        var cmd = new Command("port", "List port mappings or a specific mapping for the container") { container, privatePort };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            ContainerDirs.ReapStale(root);
            var c = ContainerStore.Find(root, r.GetValue(container)!);
            var ports = c.Supervised ? ContainerNetwork.Load(c.Dir)?.Ports ?? [] : [];
            if (r.GetValue(privatePort) is { } want)
            {
                var (num, proto) = want.Contains('/') ? (want[..want.IndexOf('/')], want[(want.IndexOf('/') + 1)..]) : (want, "tcp");
                var match = ports.Where(p => p.ContainerPort.ToString() == num && p.Protocol == proto).ToList();
                if (match.Count == 0) return Output.Fail($"No public port '{num}/{proto}' published for {r.GetValue(container)}", 1);
                foreach (var p in match) Console.WriteLine($"{(p.HostIp is "" ? "0.0.0.0" : p.HostIp)}:{p.HostPort}");
                return 0;
            }
            foreach (var p in ports.OrderBy(p => p.ContainerPort)) Console.WriteLine(p.ToString());
            return 0;
        }));
        return cmd;
    }
}
