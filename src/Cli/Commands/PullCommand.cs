using System.CommandLine;
using Inception.Runtime.Images;
using Inception.Runtime.Images.Registry;

namespace Inception.Runtime.Cli.Commands;

static class PullCommand
{
    /// <summary>--insecure-registry HOST[:PORT]: plain HTTP for that registry (localhost always may).</summary>
    public static Option<string[]> Insecure() => new("--insecure-registry")
    {
        Description = $"Allow plain HTTP for this registry (localhost and 127.0.0.1 always may; also ${RegistryOptions.InsecureVariable}=host,host)",
    };

    public static Command Create()
    {
        var platform = new Option<string?>("--platform") { Description = "Pull for this platform (os/arch[/variant]; default linux and the host's architecture)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress verbose output" };
        var insecure = Insecure();
        var reference = new Argument<string>("NAME[:TAG|@DIGEST]");
        var cmd = new Command("pull", "Download an image from a registry") { platform, quiet, insecure, reference };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var name = ImageReference.Parse(r.GetValue(reference)!);
            var p = r.GetValue(platform) is { } text ? Platform.Parse(text) : null;
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var progress = TransferProgress.For(Console.Out, 1, r.GetValue(quiet));
            new ImagePuller(store, RegistryOptions.FromEnvironment(r.GetValue(insecure)), progress).Pull(name, p);
            Console.WriteLine(name.Canonical);
            return 0;
        }));
        return cmd;
    }
}

static class PushCommand
{
    public static Command Create()
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress verbose output" };
        var insecure = PullCommand.Insecure();
        var reference = new Argument<string>("NAME[:TAG]");
        var cmd = new Command("push", "Upload an image to a registry") { quiet, insecure, reference };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var progress = TransferProgress.For(Console.Out, 1, r.GetValue(quiet));
            var digest = new ImagePusher(store, RegistryOptions.FromEnvironment(r.GetValue(insecure)), progress).Push(r.GetValue(reference)!);
            if (r.GetValue(quiet)) Console.WriteLine(digest);
            return 0;
        }));
        return cmd;
    }
}

static class TagCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("SOURCE_IMAGE[:TAG]");
        var target = new Argument<string>("TARGET_IMAGE[:TAG]");
        var cmd = new Command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE") { source, target };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var store = new ImageStore(r.GetValue(GlobalOptions.Root)!);
            var name = ImageReference.Parse(r.GetValue(target)!);
            if (name.Digest is not null) return Output.Fail($"refusing to create a tag with a digest reference: {r.GetValue(target)}");
            var image = store.Resolve(r.GetValue(source)!);
            store.Tag(name, image.Id);
            return 0;
        }));
        return cmd;
    }
}

static class LoginCommand
{
    public static Command CreateLogin()
    {
        var user = new Option<string?>("--username", "-u") { Description = "Username" };
        var password = new Option<string?>("--password", "-p") { Description = "Password (prefer --password-stdin)" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Take the password from stdin" };
        var insecure = PullCommand.Insecure();
        var server = new Argument<string?>("SERVER") { Arity = ArgumentArity.ZeroOrOne, Description = "Registry (default docker.io)" };
        var cmd = new Command("login", "Log in to a registry") { user, password, passwordStdin, insecure, server };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var registry = CredentialStore.Key(r.GetValue(server) ?? ImageReference.DefaultDomain);
            var u = r.GetValue(user);
            var p = r.GetValue(password);
            if (r.GetValue(passwordStdin))
            {
                if (p is not null) return Output.Fail("--password and --password-stdin are mutually exclusive");
                if (u is null) return Output.Fail("Must provide --username with --password-stdin");
                p = Console.In.ReadToEnd().TrimEnd('\n', '\r');
            }
            else if (p is not null) Console.Error.WriteLine("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            if (u is null || p is null)
            {
                if (Native.Libc.isatty(0) != 1) return Output.Fail("Cannot perform an interactive login from a non TTY device");
                if (u is null) { Console.Write("Username: "); u = Console.ReadLine()?.Trim(); }
                if (p is null) { Console.Write("Password: "); p = ReadSecret(); }
            }
            if (string.IsNullOrEmpty(u)) return Output.Fail("Error: Non-null Username Required");
            if (string.IsNullOrEmpty(p)) return Output.Fail("Error: Non-null Password Required");
            using (var client = new RegistryClient(registry, RegistryOptions.FromEnvironment(r.GetValue(insecure)), (u, p)))
            {
                try { client.CheckLogin(); }
                catch (RegistryException e) { return Output.Fail($"login {registry}: {e.Message}"); }
            }
            new CredentialStore(r.GetValue(GlobalOptions.Root)!).Set(registry, u, p);
            Console.WriteLine("Login Succeeded");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateLogout()
    {
        var server = new Argument<string?>("SERVER") { Arity = ArgumentArity.ZeroOrOne, Description = "Registry (default docker.io)" };
        var cmd = new Command("logout", "Log out from a registry") { server };
        cmd.SetAction(r => Output.Guard(() =>
        {
            var registry = CredentialStore.Key(r.GetValue(server) ?? ImageReference.DefaultDomain);
            if (new CredentialStore(r.GetValue(GlobalOptions.Root)!).Remove(registry)) Console.WriteLine($"Removing login credentials for {registry}");
            else Console.WriteLine($"Not logged in to {registry}");
            return 0;
        }));
        return cmd;
    }

    static string ReadSecret()
    {
        var chars = new List<char>();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter) break;
            if (k.Key == ConsoleKey.Backspace) { if (chars.Count > 0) chars.RemoveAt(chars.Count - 1); continue; }
            chars.Add(k.KeyChar);
        }
        Console.WriteLine();
        return new string([.. chars]);
    }
}
