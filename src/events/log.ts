// The listener's structured log: one record per accepted or rejected event, delivery and connection change. The
// command decides how to print it; nothing below it prints. Fields never hold secrets or tokens.
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;
/** `event` is a stable snake_case name (event_accepted, event_rejected, artifact_delivered, websocket_disconnected...). */
export type ListenLog = (level: LogLevel, event: string, fields?: LogFields) => void;

export const silentLog: ListenLog = () => {};
