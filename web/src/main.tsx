import { render } from 'preact';
import { App } from './App.tsx';
import './styles.css';
import { applyTheme } from './ui/theme.ts';

applyTheme();
render(<App />, document.getElementById('app')!);
