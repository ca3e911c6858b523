import './styles.css';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { loadConfig } from './config';

const root = createRoot(document.getElementById('root')!);
loadConfig().then(
  (config) => root.render(<App config={config} />),
  (err: unknown) =>
    root.render(
      <main className="picker">
        <div className="picker-card" role="alert">
          <h1>The demo could not start</h1>
          <p className="muted">{err instanceof Error ? err.message : String(err)}. Is `npm start` running?</p>
        </div>
      </main>,
    ),
);
