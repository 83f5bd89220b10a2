export interface DemoConfig {
  jwtSecret: string;
  production: boolean;
  /** Folder with the built web page (`index.html`, `app.js`, `app.css`); absent = no page. */
  webRoot: string | undefined;
}

export const DEMO_CONFIG = Symbol('DEMO_CONFIG');
