export interface DemoConfig {
  jwtSecret: string;
  production: boolean;
}

export const DEMO_CONFIG = Symbol('DEMO_CONFIG');
