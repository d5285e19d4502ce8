using System.CommandLine;
using Inception.Runtime.Images;

namespace Inception.Runtime.Cli.Commands;

static class ImagesCommand
{
    public static Command Create()
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only show image IDs" };
        var cmd = new Command("images", "List images") { quiet };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var rows = new ImageStore(r.GetValue(GlobalOptions.Root)!).List();
            if (r.GetValue(quiet))
            {
                foreach (var id in rows.Select(x => x.ShortId).Distinct()) Console.WriteLine(id);
                return 0;
            }
            var table = new List<string[]> { new[] { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" } };
            foreach (var x in rows)
                table.Add([x.Repository, x.Tag, x.ShortId, Humanize.Ago(x.Created), Humanize.Size(x.Size)]);
            Humanize.PrintTable(table);
            return 0;
        }));
        return cmd;
    }
}
