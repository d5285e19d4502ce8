using System.CommandLine;
using Inception.Runtime.Run;

namespace Inception.Runtime.Cli.Commands;

/// <summary>`incrun exec`: run a command in a running container (docker's flags; options end at CONTAINER).</summary>
static class ExecCommand
{
    public static Command Create()
    {
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep STDIN open and pass it to the command" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Detached mode: run the command in the background" };
        var user = new Option<string?>("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set environment variables (NAME=value, or NAME to copy the host's)" };
        var envFile = new Option<string[]>("--env-file") { Description = "Read in a file of environment variables" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var privileged = new Option<bool>("--privileged") { Description = "Give the command every capability" };
        var container = new Argument<string>("CONTAINER") { Description = "Name, ID or unique ID prefix of a running container" };
        var command = new Argument<string[]>("COMMAND") { Description = "Command and arguments (options end at CONTAINER)", Arity = ArgumentArity.ZeroOrMore, CaptureRemainingTokens = true };
        container.Validators.Add(a =>
        {
            if (a.Tokens.FirstOrDefault()?.Value is { Length: > 1 } t && t[0] == '-') a.AddError($"unknown flag: {t}");
        });

        var cmd = new Command("exec", "Execute a command in a running container")
        {
            interactive, tty, detach, user, env, envFile, workdir, privileged, container, command,
        };
        cmd.SetAction(r => Output.Guard(() =>
        {
            if (r.GetValue(tty) && r.GetValue(interactive) && !r.GetValue(detach) && Native.Libc.isatty(0) != 1)
                return Output.Fail("the input device is not a TTY", 1);
            var commandLine = RunCommand.VerbatimCommand ?? r.GetValue(command) ?? [];
            if (commandLine.Length == 0)
                return Output.Fail("\"exec\" requires at least 2 arguments.\nSee 'incrun exec --help'.");
            var options = new ExecOptions
            {
                Container = r.GetValue(container)!,
                Command = commandLine,
                Interactive = r.GetValue(interactive),
                Tty = r.GetValue(tty),
                Detach = r.GetValue(detach),
                User = r.GetValue(user),
                Env = r.GetValue(env) ?? [],
                EnvFiles = r.GetValue(envFile) ?? [],
                Workdir = r.GetValue(workdir),
                Privileged = r.GetValue(privileged),
            };
            return new ExecRunner(r.GetValue(GlobalOptions.Root)!, GlobalOptions.Trace(r)).Run(options);
        }));
        return cmd;
    }
}
