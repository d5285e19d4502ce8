using System.CommandLine;
using System.Text;
using System.Text.Json;
using Inception.Runtime.Images;

namespace Inception.Runtime.Cli.Commands;

static class ImagesCommand
{
    public static Command Create(string verb = "images")
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only show image IDs" };
        var all = new Option<bool>("--all", "-a") { Description = "Show all images (incrun keeps no intermediate images, so the same list)" };
        var digests = new Option<bool>("--digests") { Description = "Show digests" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var format = new Option<string?>("--format") { Description = "json: one JSON object per line (docker's fields)" };
        var cmd = new Command(verb, "List images") { quiet, all, digests, noTrunc, format };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var rows = new ImageStore(r.GetValue(GlobalOptions.Root)!).List();
            bool full = r.GetValue(noTrunc);
            string Id(ImageSummary x) => full ? x.Id : x.ShortId;
            if (r.GetValue(quiet))
            {
                foreach (var id in rows.Select(Id).Distinct()) Console.WriteLine(id);
                return 0;
            }
            if (r.GetValue(format) is { } f)
            {
                if (f.Trim() is not ("json" or "{{json .}}")) return Output.Fail($"--format \"{f}\" is not supported (use json)");
                foreach (var x in rows)
                {
                    var ms = new MemoryStream();
                    using (var w = new Utf8JsonWriter(ms))
                    {
                        w.WriteStartObject();
                        w.WriteString("Containers", "N/A");
                        w.WriteString("CreatedAt", x.Created?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss '+0000 UTC'", System.Globalization.CultureInfo.InvariantCulture) ?? "");
                        w.WriteString("CreatedSince", Humanize.Ago(x.Created));
                        w.WriteString("Digest", x.Digest ?? "<none>");
                        w.WriteString("ID", Id(x));
                        w.WriteString("Repository", x.Repository);
                        w.WriteString("Size", Humanize.Size(x.Size));
                        w.WriteString("Tag", x.Tag);
                        w.WriteEndObject();
                    }
                    Console.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
                }
                return 0;
            }
            bool showDigests = r.GetValue(digests);
            var table = new List<string[]>
            {
                showDigests ? ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"] : ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            };
            foreach (var x in rows)
                table.Add(showDigests
                    ? [x.Repository, x.Tag, x.Digest ?? "<none>", Id(x), Humanize.Ago(x.Created), Humanize.Size(x.Size)]
                    : [x.Repository, x.Tag, Id(x), Humanize.Ago(x.Created), Humanize.Size(x.Size)]);
            Humanize.PrintTable(table);
            return 0;
        }));
        return cmd;
    }
}
