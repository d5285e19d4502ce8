using System.CommandLine;
using System.Text;
using System.Text.Json;
using Inception.Runtime.Images;
using Inception.Runtime.State;

namespace Inception.Runtime.Cli.Commands;

/// <summary>rmi, image inspect, history, system df, system prune.</summary>
static class ImageManageCommands
{
    public static Command Rmi() => RmiCommand("rmi");

    static Command RmiCommand(string verb)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Force removal of the image (even if a container uses it)" };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command(verb, "Remove one or more images") { force, images };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            int status = 0;
            foreach (var name in r.GetValue(images)!)
            {
                try
                {
                    foreach (var line in store.Remove(name, r.GetValue(force)).Lines) Console.WriteLine(line);
                }
                catch (Errors.RuntimeError e)
                {
                    // docker: report each failure, go on with the others, exit 1 at the end
                    Console.Error.WriteLine($"incrun: {e.Message}");
                    status = 1;
                }
            }
            return status;
        }));
        return cmd;
    }

    /// <summary>`image` with inspect, ls, rm, pull, push, tag, history, prune, save, load as subcommands.</summary>
    public static Command Image(params Command[] shared)
    {
        var cmd = new Command("image", "Manage images");
        cmd.Subcommands.Add(Inspect());
        cmd.Subcommands.Add(RmiCommand("rm"));
        cmd.Subcommands.Add(PruneCommand("prune", imagesOnly: true));
        foreach (var c in shared) cmd.Subcommands.Add(c);
        return cmd;
    }

    public static Command Inspect()
    {
        var format = new Option<string?>("--format", "-f") { Description = "Only {{.Id}}, {{.Architecture}}, {{.Os}} or {{json .Config}} style fields (json when omitted)" };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("inspect", "Display detailed information on one or more images") { format, images };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var found = new List<Image>();
            int status = 0;
            foreach (var name in r.GetValue(images)!)
            {
                var image = store.TryResolve(name);
                if (image is null) { Console.Error.WriteLine($"incrun: No such image: {name}"); status = 1; continue; }
                found.Add(image);
            }
            var f = r.GetValue(format);
            if (f is not null)
            {
                foreach (var image in found) Console.WriteLine(FormatField(image, f));
                return status;
            }
            var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartArray();
                foreach (var image in found) WriteInspect(w, store, image);
                w.WriteEndArray();
            }
            Console.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
            return status;
        }));
        return cmd;
    }

    static string FormatField(Image image, string format)
    {
        var f = format.Trim();
        return f switch
        {
            "{{.Id}}" or "{{.ID}}" => image.Id,
            "{{.Architecture}}" => image.Config.Architecture,
            "{{.Os}}" => image.Config.Os,
            "{{.Size}}" => image.Size.ToString(global::System.Globalization.CultureInfo.InvariantCulture),
            "{{.RepoTags}}" => "[" + string.Join(' ', image.RepoTags) + "]",
            "{{.RepoDigests}}" => "[" + string.Join(' ', image.RepoDigests) + "]",
            "{{json .Config}}" or "{{json .Config.Config}}" => JsonSerializer.Serialize(image.Config.Config, ImageJsonContext.Default.ContainerConfig),
            "{{json .RootFS}}" or "{{json .RootFS.Layers}}" => JsonSerializer.Serialize(image.Config.RootFs, ImageJsonContext.Default.RootFs),
            _ => throw Errors.RuntimeError.Plain($"template \"{format}\" is not supported (supported: {{{{.Id}}}}, {{{{.Architecture}}}}, {{{{.Os}}}}, {{{{.Size}}}}, {{{{.RepoTags}}}}, {{{{.RepoDigests}}}}, {{{{json .Config}}}}, {{{{json .RootFS}}}})"),
        };
    }

    /// <summary>docker image inspect's shape (the fields incrun knows).</summary>
    static void WriteInspect(Utf8JsonWriter w, ImageStore store, Image image)
    {
        var c = image.Config;
        w.WriteStartObject();
        w.WriteString("Id", image.Id);
        w.WriteStartArray("RepoTags");
        foreach (var t in image.RepoTags) w.WriteStringValue(t);
        w.WriteEndArray();
        w.WriteStartArray("RepoDigests");
        foreach (var t in image.RepoDigests) w.WriteStringValue(t);
        w.WriteEndArray();
        w.WriteString("Parent", "");
        w.WriteString("Comment", c.History?.LastOrDefault()?.Comment ?? "");
        if (c.Created is { } created) w.WriteString("Created", created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", global::System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("Author", c.Author ?? "");
        w.WritePropertyName("Config");
        JsonSerializer.Serialize(w, c.Config, ImageJsonContext.Default.ContainerConfig);
        w.WriteString("Architecture", c.Architecture);
        if (c.Variant is not null) w.WriteString("Variant", c.Variant);
        w.WriteString("Os", c.Os);
        w.WriteNumber("Size", image.Size);
        w.WriteStartObject("RootFS");
        w.WriteString("Type", c.RootFs.Type);
        w.WriteStartArray("Layers");
        foreach (var d in c.RootFs.DiffIds) w.WriteStringValue(d);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("Metadata");
        w.WriteStartArray("LayerDirs");
        foreach (var d in image.LayerDirs) w.WriteStringValue(d);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static Command History()
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only show image IDs" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var human = new Option<bool>("--human", "-H") { Description = "Print sizes and dates in human readable format", DefaultValueFactory = _ => true };
        var image = new Argument<string>("IMAGE");
        var cmd = new Command("history", "Show the history of an image") { quiet, noTrunc, human, image };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var img = store.Resolve(r.GetValue(image)!);
            var history = img.Config.History ?? [];
            var sizes = img.Config.RootFs.DiffIds.Select(d => store.ReadLayerInfo(d)?.Size ?? 0).ToList();
            // history entries pair with layers in order, skipping empty_layer entries; newest first
            var rows = new List<string[]> { new[] { "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" } };
            int layer = 0;
            var lines = new List<string[]>();
            foreach (var h in history)
            {
                long size = h.EmptyLayer == true || layer >= sizes.Count ? 0 : sizes[layer++];
                var by = h.CreatedBy ?? "";
                if (!r.GetValue(noTrunc) && by.Length > 45) by = by[..44] + "…";
                lines.Add(["<missing>", r.GetValue(human) ? Humanize.Ago(h.Created) : h.Created?.ToString("O") ?? "", by,
                    r.GetValue(human) ? Humanize.Size(size) : size.ToString(global::System.Globalization.CultureInfo.InvariantCulture), h.Comment ?? ""]);
            }
            lines.Reverse();
            if (lines.Count > 0) lines[0][0] = r.GetValue(noTrunc) ? img.Id : img.ShortId;
            if (r.GetValue(quiet))
            {
                foreach (var l in lines) Console.WriteLine(l[0]);
                return 0;
            }
            rows.AddRange(lines);
            Humanize.PrintTable(rows);
            return 0;
        }));
        return cmd;
    }

    public static Command System()
    {
        var cmd = new Command("system", "Manage incrun");
        var df = new Command("df", "Show disk usage");
        df.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var users = store.ContainerUsers();
            var (total, active, size, reclaimable) = store.DiskUsage(store.ImagesInUse(users));
            var containersDir = Path.Combine(store.Root, "containers");
            long containerSize = 0;
            foreach (var u in users)
                containerSize += DirSize(Path.Combine(containersDir, u.ContainerId, "upper"));
            Humanize.PrintTable(
            [
                ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                ["Images", total.ToString(), active.ToString(), Humanize.Size(size), $"{Humanize.Size(reclaimable)} ({(size == 0 ? 0 : reclaimable * 100 / size)}%)"],
                ["Containers", users.Count.ToString(), users.Count.ToString(), Humanize.Size(containerSize), "0B (0%)"],
                ["Local Volumes", "0", "0", "0B", "0B"],
                ["Build Cache", "0", "0", "0B", "0B"],
            ]);
            return 0;
        }));
        cmd.Subcommands.Add(df);
        cmd.Subcommands.Add(PruneCommand("prune", imagesOnly: false));
        return cmd;
    }

    static Command PruneCommand(string verb, bool imagesOnly)
    {
        var all = new Option<bool>("--all", "-a") { Description = imagesOnly ? "Remove all unused images, not just dangling ones" : "Remove all unused images not just dangling ones" };
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var cmd = new Command(verb, imagesOnly ? "Remove unused images" : "Remove unused data (dangling images; all unused images with -a)") { all, force };
        cmd.SetAction(r => Output.Guard(() =>
        {
            if (!r.GetValue(force))
            {
                Console.WriteLine(imagesOnly
                    ? (r.GetValue(all) ? "WARNING! This will remove all images without at least one container associated to them." : "WARNING! This will remove all dangling images.")
                    : "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all " + (r.GetValue(all) ? "images without at least one container associated to them" : "dangling images") + "\n  - unused layers and blobs");
                Console.Write("Are you sure you want to continue? [y/N] ");
                var answer = Console.ReadLine()?.Trim();
                if (answer is not ("y" or "Y" or "yes")) return 0;
            }
            var root = r.GetValue(GlobalOptions.Root)!;
            if (!imagesOnly)
            {
                // as docker: stopped containers first (their images become unused), then unused networks
                var life = new Run.Lifecycle(root);
                ContainerDirs.ReapStale(root);
                var removed = new List<string>();
                foreach (var c in ContainerStore.List(root).Where(c => !c.Supervised))
                {
                    try { life.Remove(c, force: false); removed.Add(c.Id); }
                    catch (Errors.RuntimeError) { } // started again meanwhile
                }
                if (removed.Count > 0)
                {
                    Console.WriteLine("Deleted Containers:");
                    foreach (var id in removed) Console.WriteLine(id);
                    Console.WriteLine();
                }
                var networks = Network.NetworkStore.Prune(root);
                if (networks.Count > 0)
                {
                    Console.WriteLine("Deleted Networks:");
                    foreach (var n in networks) Console.WriteLine(n);
                    Console.WriteLine();
                }
            }
            var store = new ImageStore(root);
            var report = store.Prune(r.GetValue(all), store.ImagesInUse());
            var deleted = report.Lines.Where(l => l.StartsWith("Untagged", StringComparison.Ordinal) || l.StartsWith("Deleted", StringComparison.Ordinal)).ToList();
            if (deleted.Count > 0)
            {
                Console.WriteLine("Deleted Images:");
                foreach (var l in deleted) Console.WriteLine(l.Replace("Untagged: ", "untagged: ").Replace("Deleted: ", "deleted: "));
                Console.WriteLine();
            }
            Console.WriteLine($"Total reclaimed space: {Humanize.Size(report.Reclaimed)}");
            return 0;
        }));
        return cmd;
    }

    static long DirSize(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        long size = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", options)) size += f.Length;
        return size;
    }
}
