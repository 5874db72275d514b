// Where the embedded PostgreSQL's binaries and data live, for the user it runs as. PostgreSQL refuses to
// run as root, so as root it runs as the `postgres` system user, who must reach both. A checkout or data
// directory below a private directory (root's home, a `mktemp -d` folder) is out of its reach: the
// binaries are then copied once into a shared cache and the data kept in a shared place, linked from
// where it was asked for.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  rmdirSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface PostgresUser {
  uid: number;
  gid: number;
}

export interface PostgresPaths {
  /** The directory of initdb and postgres. */
  binDir: string;
  /** The data directory as PostgreSQL is given it: no symbolic link on the way. */
  dataDir: string;
  /** The user PostgreSQL runs as; null: this process's own. */
  user: PostgresUser | null;
}

/** Root-owned, mode 0755 at every level: the postgres user reaches what is copied or kept here. */
export const sharedBinariesDir = '/var/cache/zenpay/embedded-postgres';
export const sharedDataDir = '/var/lib/zenpay/postgres';

export function preparePostgresPaths(dataDir: string, say: (message: string) => void): PostgresPaths {
  const packaged = packagedBinaries();
  const requestedDataDir = path.resolve(dataDir);
  if (process.getuid?.() !== 0) {
    return { binDir: path.join(packaged.nativeDir, 'bin'), dataDir: requestedDataDir, user: null };
  }
  const user = ensurePostgresUser(say);
  const binDir = reachableBinDir(packaged, user, say);
  const realDataDir = reachableDataDir(requestedDataDir, user, say);
  mkdirSync(realDataDir, { recursive: true });
  chownSync(realDataDir, user.uid, user.gid);
  return { binDir, dataDir: realDataDir, user };
}

interface PackagedBinaries {
  nativeDir: string;
  version: string;
}

/** The platform package of embedded-postgres (an optional dependency of it) holds the binaries. */
function packagedBinaries(): PackagedBinaries {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const fromEmbeddedPostgres = createRequire(require.resolve('embedded-postgres'));
  let entry: string;
  try {
    entry = fromEmbeddedPostgres.resolve(name);
  } catch {
    throw new Error(`no PostgreSQL binaries for ${process.platform}-${process.arch} (${name} is not installed): run npm ci`);
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  return { nativeDir: path.join(packageDir, 'native'), version };
}

function lookUpUser(name: string): PostgresUser | null {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

function ensurePostgresUser(say: (message: string) => void): PostgresUser {
  const existing = lookUpUser('postgres');
  if (existing) return existing;
  say('creating the postgres system user (PostgreSQL refuses to run as root)');
  // Another start may be creating it at the same moment: failures count only if the user is still missing.
  if (spawnSync('getent', ['group', 'postgres']).status !== 0) spawnSync('groupadd', ['--system', 'postgres']);
  spawnSync('useradd', ['--system', '--gid', 'postgres', '--home-dir', '/nonexistent', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
  const created = lookUpUser('postgres');
  if (!created) throw new Error('running as root, PostgreSQL needs a `postgres` user and creating one failed: run `useradd --system postgres`');
  return created;
}

/** Whether user can reach target: search (or execute) permission on it and on every directory above it. */
function canReach(target: string, user: PostgresUser): boolean {
  return spawnSync('test', ['-x', target], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

/** The first directory on the way to target that user cannot enter (for messages). */
function firstBlockedDir(target: string, user: PostgresUser): string {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let depth = 1; depth <= parts.length; depth += 1) {
    const dir = path.sep + parts.slice(0, depth).join(path.sep);
    if (!canReach(dir, user)) return dir;
  }
  return target;
}

/** Creates dir and any missing parent with mode 0755 whatever the umask. */
function mkdirShared(dir: string): void {
  if (existsSync(dir)) return;
  mkdirShared(path.dirname(dir));
  mkdirSync(dir);
  chmodSync(dir, 0o755);
}

function reachableBinDir(packaged: PackagedBinaries, user: PostgresUser, say: (message: string) => void): string {
  const packagedBin = path.join(packaged.nativeDir, 'bin');
  if (canReach(path.join(packagedBin, 'postgres'), user)) return packagedBin;
  const cached = path.join(sharedBinariesDir, `${packaged.version}-${process.platform}-${process.arch}`);
  if (!existsSync(cached)) {
    say(`copying the PostgreSQL binaries to ${cached} once (the postgres user cannot enter ${firstBlockedDir(packagedBin, user)})`);
    mkdirShared(sharedBinariesDir);
    // Copied beside the target and renamed into place, so a half-done copy is never taken for a whole one.
    const partial = `${cached}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(packaged.nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, cached);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(cached)) throw error;
    }
  }
  const cachedBin = path.join(cached, 'bin');
  if (!canReach(path.join(cachedBin, 'postgres'), user)) {
    throw new Error(`the postgres user cannot run ${cachedBin}/postgres (blocked at ${firstBlockedDir(cachedBin, user)}): make ${sharedBinariesDir} readable by every user, or remove it to copy again`);
  }
  return cachedBin;
}

function reachableDataDir(dataDir: string, user: PostgresUser, say: (message: string) => void): string {
  const link = lstatSync(dataDir, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    const target = path.resolve(path.dirname(dataDir), readlinkSync(dataDir));
    if (!canReach(path.dirname(target), user)) {
      throw new Error(`${dataDir} links to ${target}, which the postgres user cannot reach (blocked at ${firstBlockedDir(target, user)}): remove the link`);
    }
    say(`PostgreSQL data is in ${target} (${dataDir} links there)`);
    return target;
  }
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const inPlace = path.join(realpathSync(path.dirname(dataDir)), path.basename(dataDir));
  if (canReach(path.dirname(inPlace), user)) return inPlace;

  const blocked = firstBlockedDir(inPlace, user);
  if (link) {
    if (readdirSync(dataDir).length > 0) {
      throw new Error(`PostgreSQL runs as the postgres user, who cannot enter ${blocked}, so it cannot use the data in ${dataDir}: move that directory to one every user can enter and link ${dataDir} to it, or set ZENPAY_DATA_DIR`);
    }
    rmdirSync(dataDir);
  }
  const slug = inPlace.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+/, '').slice(-48);
  const hash = createHash('sha256').update(inPlace).digest('hex').slice(0, 12);
  const shared = path.join(sharedDataDir, `${slug}-${hash}`);
  mkdirShared(sharedDataDir);
  symlinkSync(shared, dataDir);
  say(`PostgreSQL data is in ${shared}, linked from ${dataDir} (the postgres user cannot enter ${blocked})`);
  return shared;
}

