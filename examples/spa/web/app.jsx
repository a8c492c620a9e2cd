import React from "react";
import { createRoot } from "react-dom/client";

function App() {
  const [count, setCount] = React.useState(0);
  return (
    <main>
      <h1>Hello from a strata build step</h1>
      <p>Bundled by Debian's esbuild, served by caddy.</p>
      <button onClick={() => setCount(count + 1)}>clicked {count} times</button>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
