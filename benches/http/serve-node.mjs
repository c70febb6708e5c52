// `cog-node serve` for ./echo-node, from the built package (dist/), as an installed cog-node runs.
import { serveFromConfig } from 'cog-node';

await serveFromConfig({ cwd: new URL('./echo-node', import.meta.url).pathname, host: '127.0.0.1' });
