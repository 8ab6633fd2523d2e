using System.Diagnostics;
using System.Text.Json;
using Lanner.Settings;

namespace Lanner.Cli;

/// <summary>
/// A gunicorn.conf.py, run with the workers' Python: its module-level values become settings
/// (as in gunicorn, other names are the file's own), and its server hooks are noted.
/// </summary>
internal static class PythonConfigFile
{
    private const string Script = """
import inspect, json, runpy, sys, traceback, types
# Each hook with the arguments it is called with (post_request may also take the first 2 or 3).
# accepts() is lanner/worker/hooks.py's: this script runs alone, without the lanner package.
HOOKS = {"on_starting": "server", "on_reload": "server", "when_ready": "server", "pre_fork": "server, worker",
         "post_fork": "server, worker", "post_worker_init": "worker", "worker_int": "worker",
         "worker_abort": "worker", "pre_exec": "server", "pre_request": "worker, req",
         "post_request": "worker, req, environ, resp", "child_exit": "server, worker",
         "worker_exit": "server, worker", "nworkers_changed": "server, new_value, old_value", "on_exit": "server"}
def accepts(fn, count):
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:
        pass
    return True
def misfit(name, fn):
    want = HOOKS[name]
    counts = (4, 3, 2) if name == "post_request" else (want.count(",") + 1,)
    if any(accepts(fn, n) for n in counts):
        return None
    try:
        takes = f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        takes = name
    return f"{name}: the hook is called as {name}({want}), but the file defines {takes}"
def plain(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple, set, frozenset)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return str(v)
path = sys.argv[1]
try:
    ns = runpy.run_path(path, run_name="__config__")
except BaseException as exc:
    # The traceback from the file's own frames on (this runner's are noise); just the error when
    # the file never ran (a SyntaxError says where it is without frames).
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != path:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb) if tb is not None else traceback.format_exception_only(type(exc), exc))
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "traceback": text}))
    raise SystemExit(0)
values, hooks, functions, misfits = {}, [], [], []
for k, v in ns.items():
    if k.startswith("_") or isinstance(v, types.ModuleType) or isinstance(v, type):
        continue
    if callable(v):
        if k in HOOKS:
            hooks.append(k)
            if (problem := misfit(k, v)) is not None:
                misfits.append(problem)
        elif isinstance(v, types.FunctionType) and v.__module__ == "__config__":
            functions.append(k)
        continue
    values[k] = plain(v)
print(json.dumps({"values": values, "hooks": hooks, "functions": functions, "misfits": misfits}))
""";

    /// <summary>
    /// Reads the file; returns its settings (hooks as defined-or-not) or throws SettingException.
    /// As gunicorn, it runs in the current directory, which is first on sys.path: a file named with
    /// -c elsewhere sees the same os.getcwd() and imports as under gunicorn.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> Read(string path, string python) => Read(path, python, out _);

    /// <summary>As <see cref="Read(string, string)"/>; <paramref name="functions"/> are the other functions the file defines (not hooks).</summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> Read(string path, string python, out IReadOnlyList<string> functions)
    {
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory.GetCurrentDirectory(),
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(path);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new SettingException($"{path}: cannot start {python}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new SettingException($"{path}: cannot start {python} to read it: {ex.Message}");
        }

        using (process)
        {
            Task<string> errors = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            string last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
            JsonElement result;
            try
            {
                result = JsonDocument.Parse(last).RootElement;
            }
            catch (JsonException)
            {
                throw new SettingException($"{path}: cannot be read: {(errors.Result + output).Trim()}");
            }

            if (result.TryGetProperty("error", out JsonElement error))
            {
                throw new SettingException($"{path}: error while running it: {error.GetString()}\n{result.GetProperty("traceback").GetString()!.TrimEnd()}");
            }

            if (result.TryGetProperty("misfits", out JsonElement misfits) && misfits.GetArrayLength() > 0)
            {
                throw new SettingException($"{path}: {string.Join("; ", misfits.EnumerateArray().Select(m => m.GetString()))}");
            }

            var values = result.GetProperty("values").EnumerateObject()
                .Select(p => new KeyValuePair<string, object?>(p.Name, Plain(p.Value)))
                .ToList();
            values.AddRange(result.GetProperty("hooks").EnumerateArray().Select(h => new KeyValuePair<string, object?>(h.GetString()!, true)));
            functions = result.TryGetProperty("functions", out JsonElement defined)
                ? [.. defined.EnumerateArray().Select(f => f.GetString()!)]
                : [];
            return values;
        }
    }

    private static object? Plain(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => value.EnumerateArray().Select(Plain).ToList(),
        JsonValueKind.Object => value.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value)),
        _ => null,
    };
}
