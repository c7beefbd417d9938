// npm test's pretest hook: checks that every Debian package in scripts/system-deps.txt is present.
// Silent with exit 0 when all are; installs them (scripts/install-system-deps.sh) when running as root
// with apt-get; otherwise prints the exact command to run and exits 1. Never skips silently.
// Plain Node ESM with no dependencies, so it runs before `npm ci` has built anything.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const scriptsDir = dirname(fileURLToPath(import.meta.url));
const listFile = join(scriptsDir, 'system-deps.txt');
const installScript = join(scriptsDir, 'install-system-deps.sh');

/** Parses system-deps.txt: `<package> <probe> # comment` per line; probe `-` means none. */
function readDeps() {
  const deps = [];
  for (const [index, raw] of readFileSync(listFile, 'utf8').split('\n').entries()) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    if (fields.length !== 2) {
      throw new Error(`${listFile}:${index + 1}: expected '<package> <probe>' but got: ${raw}`);
    }
    deps.push({ name: fields[0], probe: fields[1] });
  }
  return deps;
}

/** Finds an executable on PATH, or undefined. */
function which(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry; keep looking
    }
  }
  return undefined;
}

/** Names of the packages dpkg reports as installed, or undefined when there is no dpkg-query. */
function dpkgInstalled(names) {
  if (!which('dpkg-query')) return undefined;
  // dpkg-query exits 1 when any name is unknown but still prints the known ones.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query --showformat, not a JS template.
  const format = '-f=${Package} ${db:Status-Status}\\n';
  const result = spawnSync('dpkg-query', ['-W', format, ...names], { encoding: 'utf8' });
  if (result.error) throw result.error;
  const installed = new Set();
  for (const line of result.stdout.split('\n')) {
    const [name, status] = line.trim().split(/\s+/);
    if (name && status === 'installed') installed.add(name.replace(/:.*/, ''));
  }
  return installed;
}

/** Packages that are not installed, or whose probe path does not exist. */
function missingDeps(deps) {
  const installed = dpkgInstalled(deps.map((dep) => dep.name));
  return deps.filter(
    (dep) =>
      (installed !== undefined && !installed.has(dep.name)) || (dep.probe !== '-' && !existsSync(dep.probe)),
  );
}

const deps = readDeps();
const missing = missingDeps(deps);
if (missing.length === 0) process.exit(0);

const names = missing.map((dep) => dep.name).join(' ');
console.error(`check-system-deps: missing Debian packages needed by the tests: ${names}`);

const isRoot = process.getuid?.() === 0;
if (isRoot && which('apt-get') && which('dpkg-query')) {
  console.error('check-system-deps: running as root with apt-get; installing them now');
  const result = spawnSync('bash', [installScript], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`check-system-deps: ${installScript} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
  const still = missingDeps(deps);
  if (still.length > 0) {
    console.error(
      `check-system-deps: still missing after install: ${still.map((dep) => dep.name).join(' ')}`,
    );
    process.exit(1);
  }
  process.exit(0);
}

const why = isRoot ? 'apt-get/dpkg-query not found' : 'not running as root';
console.error(
  [
    `check-system-deps: cannot install them from here (${why}). Run:`,
    '',
    '  sudo bash scripts/install-system-deps.sh',
    '',
    'which does:',
    '',
    '  sudo apt-get update',
    `  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${names}`,
    '',
    `(the list and the path that proves each package is present: ${listFile})`,
  ].join('\n'),
);
process.exit(1);
