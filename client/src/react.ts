/**
 * React bindings (`@townsquare/client/react`): a provider for the client and
 * hooks that subscribe while a component is mounted. Works with React 18+
 * (web and React Native). Several components may use one channel: the
 * subscription ends when the last of them unmounts.
 */
import { createContext, createElement, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { Subscription } from './subscription.js';
import type { Townsquare } from './townsquare.js';
import type { ConnectionState, GapEvent, Message, SignalEvent, SubscribeOptions, SubscriptionState } from './types.js';

const TownsquareContext = createContext<Townsquare | null>(null);

export function TownsquareProvider(props: { client: Townsquare; children?: ReactNode }) {
  return createElement(TownsquareContext.Provider, { value: props.client }, props.children);
}

/** The client given to the nearest TownsquareProvider. */
export function useTownsquare(): Townsquare {
  const client = useContext(TownsquareContext);
  if (!client) throw new Error('useTownsquare: wrap the component in <TownsquareProvider client={…}>');
  return client;
}

export function useConnectionState(): ConnectionState {
  const client = useTownsquare();
  return useSyncExternalStore(
    (onChange) => client.on('state', onChange),
    () => client.state,
    () => client.state,
  );
}

/**
 * The newest messages of a channel this client delivered, shared by every
 * component showing it and kept across unmounts: a channel subscribed again
 * resumes after its last delivered seq (see `Townsquare.subscribe`), so the
 * view starts from here instead of replaying history.
 */
interface ChannelCache {
  messages: Message[];
  /** The largest `limit` a component asked for. */
  cap: number;
  readonly listeners: Set<() => void>;
  readonly subscribe: (onChange: () => void) => () => void;
}

/** Channels whose messages stay cached per client (least recently held forgotten first). */
const MAX_CACHED_CHANNELS = 100;
const DEFAULT_LIMIT = 500;
const caches = new WeakMap<Townsquare, Map<string, ChannelCache>>();

function cacheOf(client: Townsquare, channel: string): ChannelCache {
  let byChannel = caches.get(client);
  if (!byChannel) caches.set(client, (byChannel = new Map()));
  let cache = byChannel.get(channel);
  if (!cache) {
    const listeners = new Set<() => void>();
    cache = {
      messages: NO_MESSAGES,
      cap: DEFAULT_LIMIT,
      listeners,
      subscribe: (onChange) => {
        listeners.add(onChange);
        return () => listeners.delete(onChange);
      },
    };
    byChannel.set(channel, cache);
  }
  return cache;
}

function append(cache: ChannelCache, message: Message): void {
  let list = cache.messages;
  // A replay from an earlier seq (an explicit `since`): what follows it is being delivered again.
  if (list.length > 0 && message.seq <= list[list.length - 1]!.seq) list = list.filter((m) => m.seq < message.seq);
  cache.messages = list.length >= cache.cap ? [...list.slice(list.length - cache.cap + 1), message] : [...list, message];
  cache.listeners.forEach((onChange) => onChange());
}

/** Components holding each subscription, so one unmounting does not end another's; the holder count and the cache writer. */
const holders = new WeakMap<Subscription, { count: number; stopCaching: () => void }>();

function hold(client: Townsquare, channel: string, since: SubscribeOptions['since'], limit: number): Subscription {
  const sub = client.subscribe(channel, since === undefined ? {} : { since });
  const cache = cacheOf(client, channel);
  cache.cap = Math.max(cache.cap, limit);
  const held = holders.get(sub);
  if (held) held.count++;
  else holders.set(sub, { count: 1, stopCaching: sub.on('message', (m) => append(cache, m)) });
  // Most recently held last; forget the oldest caches nobody holds.
  const byChannel = caches.get(client)!;
  byChannel.delete(channel);
  byChannel.set(channel, cache);
  for (const [other, c] of byChannel) {
    if (byChannel.size <= MAX_CACHED_CHANNELS) break;
    if (c.listeners.size === 0 && other !== channel) byChannel.delete(other);
  }
  return sub;
}

function release(sub: Subscription): void {
  const held = holders.get(sub);
  if (!held || --held.count > 0) return;
  held.stopCaching();
  holders.delete(sub);
  sub.unsubscribe();
}

export interface UseChannelOptions extends SubscribeOptions {
  /**
   * Called for every message, once and in `seq` order, for as long as this client lives: when
   * the channel is subscribed again after every component released it, delivery resumes after
   * the last seq the client delivered (unless `since` says otherwise). Only the first holder's
   * `since` counts while several components hold a channel.
   */
  onMessage?: (message: Message) => void;
  /** A range history no longer holds (registered together with the subscription: none is missed). */
  onGap?: (gap: GapEvent) => void;
  /** Another user's signal on the channel (typing, cursors), registered with the subscription. */
  onSignal?: (signal: SignalEvent) => void;
  /** Most messages kept in `messages` (the oldest drop off); changing it does not subscribe again. @default 500 */
  limit?: number;
}

export interface ChannelView {
  /**
   * The channel's newest messages this client delivered (up to `limit`), in `seq` order: kept
   * across unmounts (for the 100 most recently held channels), so a remounted view shows them at once.
   */
  messages: Message[];
  state: SubscriptionState;
  /** From the last `subscribed` event: the gap since the last time was filled. */
  recovered: boolean;
  subscription: Subscription | null;
}

/** Subscribes to `channel` while mounted (null: nothing). */
export function useChannel(channel: string | null, options: UseChannelOptions = {}): ChannelView {
  const client = useTownsquare();
  const [sub, setSub] = useState<Subscription | null>(null);
  const [state, setState] = useState<SubscriptionState>('unsubscribed');
  const [recovered, setRecovered] = useState(false);
  // Callbacks and the limit in refs: a new function or limit each render must not resubscribe.
  const handlers = useRef(options);
  handlers.current = options;
  const limit = options.limit ?? DEFAULT_LIMIT;
  const limitRef = useRef(limit);
  limitRef.current = limit;
  const since = options.since;
  const cache = channel ? cacheOf(client, channel) : null;
  const all = useSyncExternalStore(
    cache ? cache.subscribe : noSubscription,
    () => cache?.messages ?? NO_MESSAGES,
    () => cache?.messages ?? NO_MESSAGES,
  );
  const messages = useMemo(() => (all.length > limit ? all.slice(all.length - limit) : all), [all, limit]);
  useEffect(() => {
    setRecovered(false);
    if (!channel) {
      setSub(null);
      setState('unsubscribed');
      return;
    }
    const held = hold(client, channel, since, limitRef.current);
    // Listeners in this same effect as the subscribe: nothing delivered from here on is missed.
    const offs = [
      held.on('message', (m) => handlers.current.onMessage?.(m)),
      held.on('gap', (g) => handlers.current.onGap?.(g)),
      held.on('signal', (s) => handlers.current.onSignal?.(s)),
      held.on('state', (change) => setState(change.state)),
      held.on('subscribed', (event) => setRecovered(event.recovered)),
    ];
    setSub(held);
    setState(held.state);
    return () => {
      offs.forEach((off) => off());
      release(held);
    };
  }, [client, channel, since]);
  return { messages, state, recovered, subscription: sub };
}

/** The users present on `channel` (subscribing while mounted). */
export function usePresence(channel: string | null): string[] {
  const client = useTownsquare();
  const [sub, setSub] = useState<Subscription | null>(null);
  useEffect(() => {
    if (!channel) {
      setSub(null);
      return;
    }
    const held = hold(client, channel, undefined, DEFAULT_LIMIT);
    setSub(held);
    return () => release(held);
  }, [client, channel]);
  return useSyncExternalStore(
    (onChange) => (sub ? sub.on('presence', onChange) : () => {}),
    () => sub?.members ?? NO_MEMBERS,
    () => sub?.members ?? NO_MEMBERS,
  );
}

const NO_MEMBERS: string[] = [];
const NO_MESSAGES: Message[] = [];
const noSubscription = () => () => {};
