import { describe, expect, it } from 'vitest';
import { TaskGroup } from '../../src/task-group.js';

const later = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms));

describe('TaskGroup', () => {
  it('waits for every task, including those added while it waits', async () => {
    const group = new TaskGroup();
    const done: number[] = [];
    group.add(later(20, 1).then((n) => void done.push(n)));
    group.add(
      later(5, 2).then((n) => {
        done.push(n);
        group.add(later(30, 3).then((m) => void done.push(m)));
      }),
    );
    await group.settled();
    expect(done.sort()).toEqual([1, 2, 3]);
  });

  it('rejects with the first failure, after all have settled', async () => {
    const group = new TaskGroup();
    let slowDone = false;
    group.add(later(5, 'first', true).then(() => undefined));
    group.add(later(10, 'second', true).then(() => undefined));
    group.add(later(25, 0).then(() => void (slowDone = true)));
    await expect(group.settled()).rejects.toThrow('first');
    expect(slowDone).toBe(true);
  });
});
