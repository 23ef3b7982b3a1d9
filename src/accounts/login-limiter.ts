import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface LoginLimits {
  failuresPerAccount: number;
  failuresPerIp: number;
  windowSeconds: number;
}

/**
 * Counts failed logins per email and per client address, in memory (one process; a cluster behind
 * a load balancer gets a per-node budget). A success does not reset the IP budget: an attacker with
 * one valid account must not be able to refill it.
 */
export class LoginLimiter {
  private readonly perAccount: RateLimiterMemory;
  private readonly perIp: RateLimiterMemory;

  constructor(limits: LoginLimits) {
    this.perAccount = new RateLimiterMemory({ keyPrefix: 'login-account', points: limits.failuresPerAccount, duration: limits.windowSeconds });
    this.perIp = new RateLimiterMemory({ keyPrefix: 'login-ip', points: limits.failuresPerIp, duration: limits.windowSeconds });
  }

  /** Seconds to wait when either budget is spent, else null. Checked before the password is. */
  async blockedFor(email: string, ip: string): Promise<number | null> {
    const [account, address] = await Promise.all([this.perAccount.get(email), this.perIp.get(ip)]);
    const waits = [account, address]
      .filter((res): res is RateLimiterRes => res !== null && res.remainingPoints <= 0)
      .map((res) => res.msBeforeNext / 1000);
    return waits.length > 0 ? Math.max(...waits) : null;
  }

  async failed(email: string, ip: string): Promise<void> {
    // penalty() records without throwing when the budget is already spent.
    await Promise.all([this.perAccount.penalty(email), this.perIp.penalty(ip)]);
  }

  async succeeded(email: string): Promise<void> {
    await this.perAccount.delete(email);
  }
}
