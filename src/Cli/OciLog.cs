using System.Text;
using System.Text.Json;

namespace Inception.Runtime.Cli;

/// <summary>runc's logging contract for the OCI front end: --log FILE (appended), --log-format text|json
/// (json lines {"level","msg","time"}, which conmon and the containerd shim parse), --debug. Errors go
/// to the log and to stderr as one line.</summary>
static class OciLog
{
    public static string? File { get; set; }
    public static bool Json { get; set; }
    public static bool Debug { get; set; }

    public static int Error(string message, int code = 1)
    {
        Console.Error.WriteLine($"incrun-oci: {message}");
        Write("error", message);
        return code;
    }

    public static void Warn(string message)
    {
        if (File is null) Console.Error.WriteLine($"incrun-oci: warning: {message}");
        Write("warning", message);
    }

    public static void Info(string message)
    {
        if (Debug) Write("debug", message);
    }

    static void Write(string level, string message)
    {
        if (File is null) return;
        var time = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ");
        string line;
        if (Json)
        {
            using var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                w.WriteStartObject();
                w.WriteString("level", level);
                w.WriteString("msg", message);
                w.WriteString("time", time);
                w.WriteEndObject();
            }
            line = Encoding.UTF8.GetString(ms.ToArray());
        }
        else line = $"time=\"{time}\" level={level} msg=\"{message.Replace("\"", "\\\"")}\"";
        try { System.IO.File.AppendAllText(File, line + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Console.Error.WriteLine($"incrun-oci: --log {File}: {Inception.Runtime.Errors.RuntimeError.IoText(e)}"); }
    }
}
