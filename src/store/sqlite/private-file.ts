/**
 * SQLite files hold device ids, ciphertext, password hashes and session hashes: only Herald's user
 * may read them, whatever the umask and whoever created the folder. SQLite gives a new -wal and
 * -shm file the mode of the database file, so creating that one 0600 covers the others; files left
 * readable by an older Herald are tightened at open.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';

const PRIVATE = 0o600;

export function preparePrivateDatabaseFile(file: string): void {
  if (file === ':memory:' || file === '') return;
  if (!existsSync(file)) {
    // 'a' creates without truncating, should another process create the file at the same moment.
    closeSync(openSync(file, 'a', PRIVATE));
  }
  for (const each of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(each) && (statSync(each).mode & 0o077) !== 0) chmodSync(each, PRIVATE);
  }
}
