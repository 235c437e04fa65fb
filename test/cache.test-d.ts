import type { MonoTypeOperatorFunction } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { memoryStore, type LlmEvent, type LlmRequest, type MemoryStore, type ModelInfo, type Store, type StoreStats } from 'rxllm';
import { cache, cacheKey, type CacheConfig } from 'rxllm/operators';

describe('cache and memoryStore types', () => {
  it('memoryStore answers synchronously and is a Store', () => {
    const store = memoryStore({ eviction: 'lfu', ttl: '5m' });
    expectTypeOf(store).toEqualTypeOf<MemoryStore>();
    expectTypeOf(store).toMatchTypeOf<Store>();
    expectTypeOf(store.get('k')).toEqualTypeOf<unknown>();
    expectTypeOf(store.increment('k', 1)).toEqualTypeOf<number>();
    expectTypeOf(store.delete('k')).toEqualTypeOf<boolean>();
    expectTypeOf(store.stats()).toEqualTypeOf<StoreStats>();
  });

  it('cache is a MonoTypeOperatorFunction over events, with typed hooks', () => {
    expectTypeOf(cache(memoryStore())).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf<CacheConfig['key']>().toEqualTypeOf<((request: LlmRequest, model: ModelInfo) => string | undefined) | undefined>();
    expectTypeOf(cacheKey).returns.toEqualTypeOf<string>();
    // @ts-expect-error replay is a closed union
    cache(memoryStore(), { replay: 'slow' });
  });
});
