/** A token bucket: `rate` tokens a second, bursts up to one second's worth. */
export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(readonly rate: number, private readonly clock: () => number = Date.now) {
    this.tokens = rate;
    this.at = clock();
  }
  take(n: number): boolean {
    if (this.rate <= 0) return true;
    const now = this.clock();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}
