// The timer functions every platform the SDK runs on has (browsers, React
// Native, Node), declared without pulling in DOM or Node types.
declare function setTimeout(handler: () => void, timeout?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function setInterval(handler: () => void, timeout?: number): unknown;
declare function clearInterval(handle: unknown): void;
