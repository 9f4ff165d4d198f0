// The shim as a child process, for the runs that load it (tests/load) or kill it (tests/faults),
// and their command-line options.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../www/shim/server.mjs', import.meta.url));

/** `--name <number>` among `args`, else `fallback`. */
export function numberOption(args, name, fallback) {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

/**
 * Starts `node www/shim/server.mjs` with `env` over this process's environment (a null value
 * removes a variable); resolves once it listens to `{child, url, exited, stderr()}` (`exited`
 * resolves to `{code, signal}`). Its access log is drained; its stderr is kept, and also shown
 * when `showStderr`.
 */
export function startShim(env, { showStderr = false } = {}) {
  const merged = { ...process.env, ...env };
  for (const [name, value] of Object.entries(env)) if (value === null) delete merged[name];
  const child = spawn(process.execPath, [SERVER], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (showStderr) process.stderr.write(chunk);
  });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', function first(chunk) {
      seen += chunk;
      const match = seen.match(/listening on (http:\/\/\S+)/);
      if (match) {
        child.stdout.off('data', first);
        child.stdout.resume(); // drain the access log
        resolve({ child, url: match[1], exited, stderr: () => stderr });
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`shim exited (${code ?? signal}) before listening: ${stderr}`)));
  });
}
