using System.CommandLine;
using Inception.Runtime.Cli;
using Inception.Runtime.Cli.Commands;
using Inception.Runtime.Init;

// Init mode: the C part re-executed this binary inside the container's new namespaces.
if (Environment.GetEnvironmentVariable(InitProcess.BundleVariable) is { } bundle)
    return InitProcess.Run(bundle);
// Supervisor mode: the detached container's own supervisor (see Run/SupervisorProcess).
if (Environment.GetEnvironmentVariable(Inception.Runtime.Run.SupervisorProcess.Variable) is { } containerDir)
    return Inception.Runtime.Run.SupervisorProcess.Main(containerDir);
// exec-init: the C part has joined a running container's namespaces before the runtime started.
if (Environment.GetEnvironmentVariable(ExecInit.Variable) is not null)
    return ExecInit.Run();

// The runc-compatible OCI runtime: argv[0] is incrun-oci (a symlink), or `incrun oci VERB`.
if (OciCommand.Matches(args, out var ociArgs))
    return OciCommand.Invoke(ociArgs);

var root = new RootCommand("incrun: run Linux containers (docker-style commands on an OCI runtime core)");
root.Options.Add(GlobalOptions.Explain);
root.Options.Add(GlobalOptions.Root);
// docker uses -h for --hostname on `run`; help stays on --help.
foreach (var help in root.Options.OfType<System.CommandLine.Help.HelpOption>()) help.Aliases.Remove("-h");

root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(RunCommand.Create(create: true));
foreach (var c in ContainerCommands.Create()) root.Subcommands.Add(c);
root.Subcommands.Add(ExecCommand.Create());
root.Subcommands.Add(ImportCommand.Create());
root.Subcommands.Add(ImagesCommand.Create());
root.Subcommands.Add(PullCommand.Create());
root.Subcommands.Add(PushCommand.Create());
root.Subcommands.Add(TagCommand.Create());
root.Subcommands.Add(LoginCommand.CreateLogin());
root.Subcommands.Add(LoginCommand.CreateLogout());
root.Subcommands.Add(ImageManageCommands.Rmi());
root.Subcommands.Add(ImageManageCommands.History());
root.Subcommands.Add(ImageManageCommands.Image(ImagesCommand.Create("ls"), PullCommand.Create(), PushCommand.Create(), TagCommand.Create(),
    ImageManageCommands.History(), ImportCommand.Create(), SaveLoadCommands.Save(), SaveLoadCommands.Load()));
root.Subcommands.Add(SaveLoadCommands.Save());
root.Subcommands.Add(SaveLoadCommands.Load());
root.Subcommands.Add(ImageManageCommands.System());
root.Subcommands.Add(StatsCommand.Create());
root.Subcommands.Add(NetworkCommand.Create());
root.Subcommands.Add(PortCommand.Create());
root.Subcommands.Add(VersionCommand.Create());

var result = root.Parse(RunCommand.SplitAtImage(args));
if (result.Errors.Count > 0)
{
    var command = result.CommandResult.Command;
    var path = command == root ? "incrun" : $"incrun {command.Name}";
    return Output.Fail($"{result.Errors[0].Message}\nSee '{path} --help'.", 125);
}
// incrun forwards signals itself; System.CommandLine must not turn SIGINT/SIGTERM into cancellation.
return result.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
