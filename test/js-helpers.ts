/**
 * Shared pieces of the js transport's tests (`socketserver/js`), one file
 * per feature: each refusal and documented difference of
 * lib/js-transport.ts, tested for js with the same operation on the native
 * transport for contrast (60-js-refused-servers, 62-js-addresses,
 * 63-js-socket-options, 64-js-listening-socket); that the capabilities the
 * other test files go by are the transports' real ones (65-js-capabilities);
 * that socketserver/js loads without the addon (66-js-without-addon); its
 * CommonJS and ESM faces (67-js-module-formats); and `instanceof` along
 * Python's hierarchy within the js module (68-js-instanceof).
 */
import { execFile } from 'node:child_process';

import { ROOT, SS, transports, TransportUnderTest } from './helpers';

export type JS = typeof import('../dist/js.js');
export type SysErr = Error & { code?: string; errno?: number; syscall?: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyServer = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyClass = new (...args: any[]) => any;

function transport(name: string): TransportUnderTest {
  const t = transports.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no transport ${name} under test`);
  return t;
}
export const nativeT = transport('native');
export const jsT = transport('js');
export const native = nativeT.ss;
export const js = jsT.ss;
export const jsMod = js as unknown as JS;

export function catchError(fn: () => unknown): SysErr {
  try {
    fn();
  } catch (e) {
    return e as SysErr;
  }
  throw new Error('expected an error, none was thrown');
}

/** Runs `node -e code` in ROOT; resolves with its exit code and output (bounded). */
export function runNode(
  code: string,
  env: NodeJS.ProcessEnv = {},
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...args, '-e', code],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 15000 },
      (error, stdout, stderr) => {
        const status = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof status === 'number' ? status : null, stdout, stderr });
      },
    );
  });
}

/** Echo handlers of a module. */
export function handlers(ss: SS): { Echo: AnyClass; DgramEcho: AnyClass } {
  class Echo extends ss.StreamRequestHandler {
    override async handle(): Promise<void> {
      await this.wfile.write(await this.rfile.readline());
    }
  }
  class DgramEcho extends ss.DatagramRequestHandler {
    override async handle(): Promise<void> {
      await this.wfile.write(this.packet);
    }
  }
  return { Echo, DgramEcho };
}
