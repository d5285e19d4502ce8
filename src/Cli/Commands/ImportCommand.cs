using System.CommandLine;
using Inception.Runtime.Images;

namespace Inception.Runtime.Cli.Commands;

static class ImportCommand
{
    public static Command Create()
    {
        var change = new Option<string[]>("--change", "-c") { Description = "Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, WORKDIR)" };
        var file = new Argument<string>("file") { Description = "A root filesystem tarball (.tar or .tar.gz), or - for stdin" };
        var reference = new Argument<string?>("REPOSITORY[:TAG]") { Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("import", "Import the contents from a tarball to create a filesystem image") { change, file, reference };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var path = r.GetValue(file)!;
            using var stream = path == "-" ? Console.OpenStandardInput() : OpenFile(path);
            var image = new ImageStore(r.GetValue(GlobalOptions.Root)!).Import(stream, r.GetValue(reference), r.GetValue(change) ?? []);
            Console.WriteLine(image.Id);
            return 0;
        }));
        return cmd;
    }

    static FileStream OpenFile(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (FileNotFoundException) { throw Errors.RuntimeError.Plain($"open {path}: no such file or directory"); }
        catch (DirectoryNotFoundException) { throw Errors.RuntimeError.Plain($"open {path}: no such file or directory"); }
    }
}
