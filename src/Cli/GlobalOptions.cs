using System.CommandLine;
using Inception.Runtime.Trace;

namespace Inception.Runtime.Cli;

static class GlobalOptions
{
    public static readonly Option<bool> Explain = new("--explain")
    {
        Description = "Narrate every kernel step (call, arguments, result, and what it is for) on stderr",
        Recursive = true,
    };

    public static readonly Option<string> Root = new("--root")
    {
        Description = "Directory for images and containers",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("INCRUN_ROOT") ?? "/var/lib/incrun",
    };

    public static ITrace Trace(ParseResult r) =>
        r.GetValue(Explain) ? new TextTrace(Console.Error, "incrun") : NoTrace.Instance;
}
