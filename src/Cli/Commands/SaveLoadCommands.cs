using System.CommandLine;
using Inception.Runtime.Images;

namespace Inception.Runtime.Cli.Commands;

static class SaveLoadCommands
{
    public static Command Save()
    {
        var output = new Option<string?>("--output", "-o") { Description = "Write to a file, instead of STDOUT" };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("save", "Save one or more images to a tar archive (docker-archive + OCI layout)") { output, images };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var path = r.GetValue(output);
            if (path is null && Native.Libc.isatty(1) == 1)
                return Output.Fail("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            if (path is null)
            {
                using var stdout = Console.OpenStandardOutput();
                ImageArchive.Save(store, r.GetValue(images)!, stdout);
                return 0;
            }
            var full = Path.GetFullPath(path);
            var tmp = full + ".incrun-tmp";
            try
            {
                using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                    ImageArchive.Save(store, r.GetValue(images)!, fs);
                File.Move(tmp, full, overwrite: true);
            }
            finally { File.Delete(tmp); }
            return 0;
        }));
        return cmd;
    }

    public static Command Load()
    {
        var input = new Option<string?>("--input", "-i") { Description = "Read from tar archive file, instead of STDIN" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the load output" };
        var cmd = new Command("load", "Load images from a tar archive (docker-archive or OCI layout, plain or compressed)") { input, quiet };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var path = r.GetValue(input);
            if (path is null && Native.Libc.isatty(0) == 1)
                return Output.Fail("requested load from stdin, but stdin is empty (use -i FILE)");
            using Stream stream = path is null ? Console.OpenStandardInput()
                : File.Exists(path) ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16)
                : throw Errors.RuntimeError.Plain($"open {path}: no such file or directory");
            var lines = ImageArchive.Load(store, stream);
            if (!r.GetValue(quiet)) foreach (var l in lines) Console.WriteLine(l);
            return 0;
        }));
        return cmd;
    }
}
