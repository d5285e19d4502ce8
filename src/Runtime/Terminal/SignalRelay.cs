using System.Runtime.InteropServices;

namespace Inception.Runtime.Terminal;

/// <summary>
/// While a foreground container or exec'd command runs: SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 and
/// SIGTERM sent to incrun are passed on to it instead of ending incrun, and with a pty SIGWINCH copies
/// the host terminal's new size to it.
/// </summary>
public sealed class SignalRelay : IDisposable
{
    static readonly int[] Forwarded = [1, 2, 3, 10, 12, 15];
    const int SIGWINCH = 28;
    readonly List<PosixSignalRegistration> _registrations;

    public SignalRelay(Action<int> signal, PtySession? session)
    {
        _registrations = [.. Forwarded.Select(s => PosixSignalRegistration.Create((PosixSignal)s, ctx => { ctx.Cancel = true; signal(s); }))];
        if (session is not null)
            _registrations.Add(PosixSignalRegistration.Create((PosixSignal)SIGWINCH, ctx => { ctx.Cancel = true; session.Resize(); }));
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
