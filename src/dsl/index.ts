export { app, isApp, type App } from './app.js';
export { StreamsBuilder, type Consumed } from './streams-builder.js';
export { KStream, type Named, type Produced, type Repartitioned, type ProcessOptions } from './kstream.js';
export { BranchedKStream } from './branched-kstream.js';
