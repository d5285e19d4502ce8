using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Inception.Runtime.Cgroups;
using Inception.Runtime.State;

namespace Inception.Runtime.Cli.Commands;

/// <summary>`incrun stats`: docker's columns, read from each running container's cgroup.</summary>
static class StatsCommand
{
    public static Command Create()
    {
        var noStream = new Option<bool>("--no-stream") { Description = "Print one reading and exit" };
        var format = new Option<string?>("--format") { Description = "json: one JSON object per container" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("stats", "Display a live stream of container resource usage") { noStream, format, containers };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            var wanted = r.GetValue(containers) ?? [];
            bool json = r.GetValue(format) == "json";
            var layout = CgroupLayout.Detect();
            do
            {
                ContainerDirs.ReapStale(root);
                var all = ContainerStore.List(root);
                var running = all.Where(c => c.Supervised && c.State.IsActive).ToList();
                var shown = wanted.Length == 0 ? running : [.. wanted.Select(w => ContainerStore.Find(all, w))];
                var before = shown.Select(c => CgroupStats.Read(layout, c.CgroupsPath)).ToList();
                Thread.Sleep(r.GetValue(noStream) ? 500 : 1000);
                var rows = shown.Select((c, i) => Row(c, before[i], CgroupStats.Read(layout, c.CgroupsPath))).ToList();
                Print(rows, json, clear: !r.GetValue(noStream) && !Console.IsOutputRedirected);
            } while (!r.GetValue(noStream));
            return 0;
        }));
        return cmd;
    }

    static StatsRow Row(ContainerEntry c, CgroupSample a, CgroupSample b)
    {
        var mem = Math.Max(0, b.MemoryUsage);
        return new StatsRow(c.Id[..12], c.State.Name, $"{CgroupSample.CpuPercent(a, b):0.00}%",
            $"{Humanize.BinarySize(mem)} / {Humanize.BinarySize(b.MemoryLimit)}",
            $"{(b.MemoryLimit > 0 ? 100.0 * mem / b.MemoryLimit : 0):0.00}%",
            $"{Humanize.Size(b.NetReceived)} / {Humanize.Size(b.NetSent)}",
            $"{Humanize.Size(b.BlockRead)} / {Humanize.Size(b.BlockWrite)}", b.Pids.ToString());
    }

    static void Print(List<StatsRow> rows, bool json, bool clear)
    {
        if (clear) Console.Write("\x1b[2J\x1b[H");
        if (json)
        {
            foreach (var row in rows) Console.WriteLine(JsonSerializer.Serialize(row, StatsJson.Default.StatsRow));
            return;
        }
        var table = new List<string[]> { new[] { "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS" } };
        table.AddRange(rows.Select(x => new[] { x.ID, x.Name, x.CPUPerc, x.MemUsage, x.MemPerc, x.NetIO, x.BlockIO, x.PIDs }));
        Humanize.PrintTable(table);
    }
}

/// <summary>docker's `stats --format json` fields.</summary>
sealed record StatsRow(string ID, string Name, string CPUPerc, string MemUsage, string MemPerc, string NetIO, string BlockIO, string PIDs)
{
    public string Container => ID;
}

[JsonSerializable(typeof(StatsRow))]
sealed partial class StatsJson : JsonSerializerContext;
