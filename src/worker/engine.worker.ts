/**
 * The worker that owns the GPU device and the onnxruntime sessions. The page talks to it through comlink only
 * (client.ts); nothing here touches the DOM. Its one object is a `Session` (session.ts), whose results stay here:
 * the page asks for the views it shows (top-k for a query or a benchmark, the workspace's data), so large score
 * matrices never cross to the page thread.
 */
import { expose } from 'comlink';
import { Session } from './session';

expose(new Session());
