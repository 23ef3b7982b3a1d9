/**
 * Private keys of apps created in this tab, kept in memory only so the test-push page can sign
 * with them; gone on reload or sign-out. Herald never keeps them.
 */
export class KeyMemory {
  private readonly keys = new Map<string, string>();

  remember(appId: string, privateKey: string): void {
    this.keys.set(appId, privateKey);
  }

  get(appId: string): string {
    return this.keys.get(appId) ?? '';
  }

  clear(): void {
    this.keys.clear();
  }
}
