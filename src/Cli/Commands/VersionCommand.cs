using System.CommandLine;

namespace Inception.Runtime.Cli.Commands;

static class VersionCommand
{
    public const string Version = "0.1.0";

    public static Command Create()
    {
        var cmd = new Command("version", "Show the incrun version");
        cmd.SetAction(_ =>
        {
            Console.WriteLine($"incrun version {Version} (OCI runtime spec 1.2.0, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, NativeAOT)");
            return 0;
        });
        return cmd;
    }
}
