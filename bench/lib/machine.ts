/** What the numbers were measured on, and with which versions. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly os: string;
  readonly node: string;
  readonly date: string;
  readonly versions: Readonly<Record<string, string>>;
}

const require = createRequire(import.meta.url);

/** The installed version of a package (from its package.json), or 'missing'. */
export function packageVersion(name: string): string {
  try {
    // Resolve the package's main entry, then walk up to its package.json (exports may hide it).
    let dir = require.resolve(name);
    for (let i = 0; i < 6; i++) {
      dir = dir.slice(0, dir.lastIndexOf('/'));
      try {
        const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch {
        // keep walking up
      }
    }
  } catch {
    // not installed
  }
  return 'missing';
}

export function machineInfo(packages: readonly string[]): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    versions: Object.fromEntries(packages.map((name) => [name, packageVersion(name)])),
  };
}
