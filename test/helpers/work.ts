// Test helper: counts the work code does instead of timing it (tests never assert timings). Bytes allocated for
// Buffers and bytes decoded to strings tell a linear parser or formatter from one that copies or re-reads what it
// already has; a number that counts its comparisons tells a binary search from a scan. Same input, same counts.

export interface BufferWork<T> {
  result: T;
  /** bytes of the Buffers allocated (Buffer.alloc, allocUnsafe, from, and concat, which allocates through allocUnsafe) */
  allocated: number;
  /** how many Buffers were allocated */
  allocations: number;
  /** bytes turned into strings by Buffer#toString */
  decoded: number;
}

/** Runs fn (synchronous, so nothing else runs meanwhile) counting Buffer allocations and decoding. */
export function countBufferWork<T>(fn: () => T): BufferWork<T> {
  const work = { allocated: 0, allocations: 0, decoded: 0 };
  const { alloc, allocUnsafe, from } = Buffer;
  const { toString } = Buffer.prototype;
  const counted = (buffer: Buffer): Buffer => {
    work.allocated += buffer.length;
    work.allocations++;
    return buffer;
  };
  Buffer.alloc = ((...args: Parameters<typeof alloc>) => counted(alloc(...args))) as typeof alloc;
  Buffer.allocUnsafe = ((size: number) => counted(allocUnsafe(size))) as typeof allocUnsafe;
  Buffer.from = ((...args: unknown[]) => {
    const buffer = Reflect.apply(from, Buffer, args) as Buffer;
    // Buffer.from(arrayBuffer) is a view of memory that already exists
    return args[0] instanceof ArrayBuffer || args[0] instanceof SharedArrayBuffer ? buffer : counted(buffer);
  }) as typeof from;
  Buffer.prototype.toString = function (this: Buffer, ...args: unknown[]): string {
    const [, start = 0, end = this.length] = args as [unknown, number?, number?];
    work.decoded += Math.max(0, Math.min(end, this.length) - Math.max(0, start));
    return Reflect.apply(toString, this, args) as string;
  } as typeof toString;
  try {
    return { result: fn(), ...work };
  } finally {
    Object.assign(Buffer, { alloc, allocUnsafe, from });
    Buffer.prototype.toString = toString;
  }
}

/**
 * Numbers that count how often code compares them: `of(n)` stands for n wherever code only compares it (<, >, <=, >=
 * call valueOf); `count` is the comparisons made so far. A binary search over k ranges makes at most 2·⌈log2(k+1)⌉.
 */
export function comparisonCounter(): { of(n: number): number; readonly count: number } {
  let count = 0;
  return {
    of: (n) => ({ valueOf: () => (count++, n) }) as unknown as number,
    get count() {
      return count;
    }
  };
}
