/**
 * React bindings (`@townsquare/client/react`): a provider for the client and
 * hooks that subscribe while a component is mounted. Works with React 18+
 * (web and React Native). Several components may use one channel: the
 * subscription ends when the last of them unmounts.
 */
import { createContext, createElement, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { Subscription } from './subscription.js';
import type { Townsquare } from './townsquare.js';
import type { ConnectionState, Message, SubscribeOptions, SubscriptionState } from './types.js';

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

/** Components holding each subscription, so one unmounting does not end another's. */
const holders = new WeakMap<Subscription, number>();

function hold(client: Townsquare, channel: string, since: SubscribeOptions['since']): Subscription {
  const sub = client.subscribe(channel, since === undefined ? {} : { since });
  holders.set(sub, (holders.get(sub) ?? 0) + 1);
  return sub;
}

function release(sub: Subscription): void {
  const left = (holders.get(sub) ?? 1) - 1;
  holders.set(sub, left);
  if (left === 0) sub.unsubscribe();
}

export interface UseChannelOptions extends SubscribeOptions {
  /** Called for every message, exactly once, in order. */
  onMessage?: (message: Message) => void;
  /** Most messages kept in `messages` (the oldest drop off). @default 500 */
  limit?: number;
}

export interface ChannelView {
  /** Messages delivered while this component was mounted (up to `limit`), in `seq` order. */
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
  const [messages, setMessages] = useState<Message[]>([]);
  const [state, setState] = useState<SubscriptionState>('unsubscribed');
  const [recovered, setRecovered] = useState(false);
  const onMessage = useRef(options.onMessage);
  onMessage.current = options.onMessage;
  const limit = options.limit ?? 500;
  const since = options.since;
  useEffect(() => {
    setMessages([]);
    setRecovered(false);
    if (!channel) {
      setSub(null);
      setState('unsubscribed');
      return;
    }
    const held = hold(client, channel, since);
    // Listeners first, in this same effect: nothing delivered from here on is missed.
    const offs = [
      held.on('message', (m) => {
        onMessage.current?.(m);
        setMessages((list) => (list.length >= limit ? [...list.slice(list.length - limit + 1), m] : [...list, m]));
      }),
      held.on('state', (change) => setState(change.state)),
      held.on('subscribed', (event) => setRecovered(event.recovered)),
    ];
    setSub(held);
    setState(held.state);
    return () => {
      offs.forEach((off) => off());
      release(held);
    };
  }, [client, channel, since, limit]);
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
    const held = hold(client, channel, undefined);
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
